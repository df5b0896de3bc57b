// Leash as a process of its own for the proxy benchmark (test/bench/proxy.ts): the same startServe() that
// `leash serve` runs, plus an IPC channel through which the benchmark asks for a garbage-collected heap figure
// and stops it cleanly (so a --cpu-prof profile gets written). A separate process keeps leash off the generator's
// and the origin's event loops, and lets its memory be read alone (RSS from /proc by the parent, heap from here).
//
// Plain JavaScript on purpose: it must run without a TypeScript loader, so that the leash being measured is the
// compiled dist/ code `leash serve` runs, not code transformed on the fly (tsx wraps every closure in a naming
// helper, which costs measurable time per request). The benchmark passes the module to load: dist/cli/serve.js,
// or src/cli/serve.ts (under tsx) when dist/ is missing or older than src/.
//
// Usage (forked, with an IPC channel): node --expose-gc leash-process.mjs SERVE_MODULE_URL POLICY_DIR AUDIT_FILE [CERTS_DIR]
// (CERTS_DIR: where leash keeps, or creates, its interception CA; startServe's default, certs/, when absent.)
// Messages in:  { kind: 'memory', id } | { kind: 'stop', id }
// Messages out: { kind: 'ready', port } | { kind: 'memory', id, rss, heapUsed, external, openExchanges,
//               auditRecords } | { kind: 'stopped', id, auditRecords }
// Never: listen anywhere but 127.0.0.1; outlive the benchmark that started it.

const [serveModule, policyDir, auditFile, certsDir] = process.argv.slice(2);
if (!serveModule || !policyDir || !auditFile || !process.send) {
  process.stderr.write(
    'usage: forked with IPC: leash-process.mjs SERVE_MODULE_URL POLICY_DIR AUDIT_FILE [CERTS_DIR]\n',
  );
  process.exit(2);
}

const { startServe } = await import(serveModule);
const line = (text) => process.stderr.write(`${text}\n`);
const running = await startServe(
  {
    policy: [policyDir],
    listen: '127.0.0.1:0',
    audit: auditFile,
    control: `${auditFile}.sock`,
    ...(certsDir ? { certs: certsDir } : {}),
  },
  { out: line, err: line, env: process.env },
);

let stopping = false;
async function stop(id) {
  if (stopping) return;
  stopping = true;
  await running.stop();
  if (process.connected)
    process.send({ kind: 'stopped', id, auditRecords: running.audit.count }, undefined, undefined, () =>
      process.exit(0),
    );
  else process.exit(0);
}

process.on('message', (message) => {
  if (message.kind === 'memory') {
    // Full collections first, so the heap figure is what is held, not garbage not yet collected.
    for (let i = 0; i < 3; i++) globalThis.gc?.();
    const usage = process.memoryUsage();
    process.send({
      kind: 'memory',
      id: message.id,
      rss: usage.rss,
      heapUsed: usage.heapUsed,
      external: usage.external,
      openExchanges: running.proxy.openExchanges,
      auditRecords: running.audit.count,
    });
  } else if (message.kind === 'stop') {
    void stop(message.id);
  }
});
process.on('disconnect', () => void stop(-1));
process.send({ kind: 'ready', port: running.proxy.port });
