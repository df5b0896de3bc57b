// Node 20's built-in fetch ignores HTTP_PROXY and HTTPS_PROXY (Node 24 and 22.21 honour them with
// NODE_USE_ENV_PROXY). `leash run` writes this small module to its private directory and loads it into every
// Node process the command starts through NODE_OPTIONS=--import: it installs undici's EnvHttpProxyAgent as the
// global dispatcher, which Node's bundled fetch reads through the shared Symbol.for('undici.globalDispatcher.1').
// undici is leash's own dependency, loaded by absolute path, so the command needs nothing installed.
// Never: stop the command from starting. If undici cannot be loaded (the command's user cannot read leash's
// install), the module warns and fetch goes direct, which the isolation (netns, uid) then refuses.

import { createRequire } from 'node:module';
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

export function preloadSource(undiciPath: string): string {
  return `// Written by leash run: make Node's built-in fetch use HTTP(S)_PROXY (undici EnvHttpProxyAgent).
import { createRequire } from 'node:module';
try {
  const { EnvHttpProxyAgent, setGlobalDispatcher } = createRequire(import.meta.url)(${JSON.stringify(undiciPath)});
  setGlobalDispatcher(new EnvHttpProxyAgent());
} catch (err) {
  process.emitWarning(\`leash run: fetch will not use the proxy: \${err && err.message}\`);
}
`;
}

/** Writes the preload to `target` and returns the file: URL for NODE_OPTIONS. */
export async function writeNodePreload(target: string): Promise<string> {
  const undiciPath = createRequire(import.meta.url).resolve('undici');
  await writeFile(target, preloadSource(undiciPath), { mode: 0o644 });
  return pathToFileURL(target).href;
}
