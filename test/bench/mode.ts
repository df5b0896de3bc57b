// How long the benchmark runs. Full (the default) is what the README's figures come from; quick
// (`npm run bench -- --quick`, or LEASH_BENCH_QUICK=1) shortens every measured window, opens fewer idle tunnels
// and generates a smaller audit log, so that a whole run fits in a few minutes. Both modes measure every
// scenario with its baselines in the same run; quick figures are noisier, never differently defined.

export interface BenchMode {
  readonly quick: boolean;
  /** Scales a measured window (warm-ups stay as they are: code must be warm whatever the mode). */
  window(fullMs: number): number;
}

export function benchMode(env: NodeJS.ProcessEnv = process.env): BenchMode {
  const quick = env.LEASH_BENCH_QUICK === '1' || env.LEASH_BENCH_QUICK === 'true';
  return { quick, window: (fullMs) => (quick ? Math.max(500, Math.round(fullMs / 2)) : fullMs) };
}
