// The bare engine baseline of the proxy benchmark (issue 13): http-proxy, the engine leash forwards plain HTTP
// with, behind an http.Server configured as leash's is, with the same keep-alive upstream agent leash builds
// (newUpstreamAgent from the leash code under test), and nothing else: no policy, no identity, no rate limit, no
// audit record. What leash adds per request over this is the cost of its own work around the engine.
//
// Plain JavaScript for the same reason as leash-process.mjs: no TypeScript loader in the measured process.
// Usage (forked, with an IPC channel): node engine-process.mjs UPSTREAM_MODULE_URL
// Messages out: { kind: 'ready', port }. Ends when the parent disconnects.
// Never: listen anywhere but 127.0.0.1; dial anything but 127.0.0.1 (every target is pinned there).

import http from 'node:http';
import httpProxy from 'http-proxy';

const [upstreamModule] = process.argv.slice(2);
if (!upstreamModule || !process.send) {
  process.stderr.write('usage: forked with IPC: engine-process.mjs UPSTREAM_MODULE_URL\n');
  process.exit(2);
}
const { newUpstreamAgent } = await import(upstreamModule);
const agent = newUpstreamAgent();
const proxy = httpProxy.createProxyServer({ xfwd: false, changeOrigin: false, ws: false, prependPath: false });
proxy.on('error', () => {});

const server = http.createServer({ requestTimeout: 0, keepAliveTimeout: 60_000, requireHostHeader: false });
server.on('connection', (socket) => socket.setNoDelay(true));
server.on('request', (req, res) => {
  let url;
  try {
    url = new URL(req.url ?? '');
  } catch {
    res.writeHead(400, { 'Content-Length': 0 }).end();
    return;
  }
  if (url.protocol !== 'http:') {
    res.writeHead(400, { 'Content-Length': 0 }).end();
    return;
  }
  req.url = `${url.pathname}${url.search}`;
  proxy.web(req, res, { target: { protocol: 'http:', host: '127.0.0.1', port: Number(url.port || 80) }, agent }, () => {
    if (!res.headersSent) res.writeHead(502, { 'Content-Length': 0 });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => process.send({ kind: 'ready', port: server.address().port }));
process.on('disconnect', () => process.exit(0));
