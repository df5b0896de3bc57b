// `leash run --isolate netns`: the command runs in a fresh network namespace whose only way out is leash.
//
// Design: `unshare --net` execs netns-relay.ts as the namespace's first process; it brings up loopback, listens
// on 127.0.0.1:PORT inside and relays each connection to a Unix socket in the run's 0700 directory, where leash
// (outside) relays it on to its proxy port. Chosen over a veth pair because a Unix socket is a file, not a route:
// the namespace gets no interface, no address and no route to anything, so there is no host service, resolver or
// forwarding rule that could be reached by mistake, and no nft rules or host-side cleanup are needed. The
// namespace is anonymous (no `ip netns add`): it disappears with its last process, so a crash leaves nothing.
// DNS inside gets no answer: /etc/resolv.conf names a resolver the namespace has no route to (refused or
// unreachable at once) or a loopback stub that does not run there (refused at once): lookups fail fast.
// Never: listen on the bridge socket anywhere but the run's private directory, or relay it anywhere but the proxy.

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Why the namespace cannot be made here, or undefined when it can (probed for real: root in a container may not). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'making a network namespace needs root (run leash run as root, or use --isolate uid or none)';
  for (const tool of ['unshare', 'ip']) {
    const found = spawnSync(tool, ['-V'], { stdio: 'ignore' });
    if ((found.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return `${tool} is not installed (Debian: apt-get install util-linux iproute2)`;
  }
  const probe = spawnSync('unshare', ['--net', 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.status !== 0)
    return `unshare --net failed: ${(probe.stderr || probe.error?.message || `exit ${probe.status}`).trim()}`;
  return undefined;
}

export interface Bridge {
  readonly path: string;
  close(): Promise<void>;
}

/** Listens on `socketPath` and relays each connection to the proxy at host:port (outside the namespace). */
export function startBridge(socketPath: string, proxy: { host: string; port: number }): Promise<Bridge> {
  const open = new Set<net.Socket>();
  const server = net.createServer((inner) => {
    const outer = net.connect(proxy.port, proxy.host);
    open.add(inner).add(outer);
    const cut = () => {
      inner.destroy();
      outer.destroy();
    };
    inner.on('error', cut).on('close', () => open.delete(inner));
    outer.on('error', cut).on('close', () => open.delete(outer));
    inner.pipe(outer).pipe(inner);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve({
        path: socketPath,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of open) socket.destroy();
          }),
      });
    });
  });
}

/**
 * The command line that starts the relay in a new namespace. From sources (the tests), the relay is TypeScript
 * and runs with tsx's loader; from dist/ it is plain JavaScript.
 */
export function relayCommand(): { command: string; args: string[] } {
  const relay = fileURLToPath(
    new URL(import.meta.url.endsWith('.ts') ? './netns-relay.ts' : './netns-relay.js', import.meta.url),
  );
  const loader = relay.endsWith('.ts')
    ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
    : [];
  return { command: 'unshare', args: ['--net', '--', process.execPath, ...loader, relay] };
}
