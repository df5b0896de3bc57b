// Everything the kernel-rules end-to-end test needs inside its network namespace, in one root process the test
// starts there (the test process itself stays outside, so it can neither listen nor run nft there): an HTTP
// origin, the --allow endpoint, another loopback port, an IPv6 server on ::1, a line echo server (for connections
// held open across a load of the rules), a DNS server on 127.0.0.53:53 (a
// stub resolver's address) and 127.0.0.1:53, and the leash command line itself, run in-process through main() so
// the test does not pay for a TypeScript-compiling process per command.
//
// Protocol: prints one JSON line of ports when ready; then answers each JSON request line on stdin with one JSON
// line: {"op":"counts"} with how many requests and queries each server has seen (so the test can prove a refused
// packet never arrived), {"op":"leash","args":[...]} with the command's exit code and output.
// Never: bind anything but loopback, or forward anything anywhere.

import dgram from 'node:dgram';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import readline from 'node:readline';
import dnsPacket from 'dns-packet';
import { main } from '../../src/main.js';

const counts: Record<string, number> = { origin: 0, allowed: 0, other: 0, v6: 0, dns: 0, echo: 0 };

/** Echoes each line back and counts the lines, so the test can prove a line sent on a cut connection never came. */
function echoServer(host: string): Promise<number> {
  const server = net.createServer((socket) => {
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let i = buffered.indexOf('\n'); i >= 0; i = buffered.indexOf('\n')) {
        counts.echo = (counts.echo ?? 0) + 1;
        socket.write(buffered.slice(0, i + 1));
        buffered = buffered.slice(i + 1);
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function httpServer(name: string, host: string): Promise<number> {
  const server = http.createServer((req, res) => {
    counts[name] = (counts[name] ?? 0) + 1;
    res.end(`hello from ${name}`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function dnsServer(host: string): Promise<void> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    counts.dns = (counts.dns ?? 0) + 1;
    let query;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const answers = (query.questions ?? []).map((q) => ({
      type: 'A' as const,
      class: 'IN' as const,
      name: q.name,
      ttl: 60,
      data: '127.0.0.1',
    }));
    socket.send(
      dnsPacket.encode({
        type: 'response',
        id: query.id,
        flags: dnsPacket.AUTHORITATIVE_ANSWER,
        questions: query.questions,
        answers,
      }),
      rinfo.port,
      rinfo.address,
    );
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(53, host, () => resolve());
  });
}

const [origin, allowed, other, v6, echo] = await Promise.all([
  httpServer('origin', '127.0.0.1'),
  httpServer('allowed', '127.0.0.1'),
  httpServer('other', '127.0.0.1'),
  httpServer('v6', '::1'),
  echoServer('127.0.0.1'),
  dnsServer('127.0.0.53'),
  dnsServer('127.0.0.1'),
]);
process.stdout.write(`${JSON.stringify({ origin, allowed, other, v6, echo })}\n`);

async function answer(line: string): Promise<unknown> {
  const request = JSON.parse(line) as { op: string; args?: string[] };
  if (request.op === 'counts') return counts;
  if (request.op === 'leash') {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(request.args ?? [], { out: (l) => out.push(l), err: (l) => err.push(l), env: process.env });
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  }
  throw new Error(`unknown op ${request.op}`);
}

// One request at a time, answered in order.
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  queue = queue.then(async () => {
    let reply: unknown;
    try {
      reply = await answer(line);
    } catch (err) {
      reply = { error: (err as Error).message };
    }
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  });
});
process.stdin.on('end', () => process.exit(0));
