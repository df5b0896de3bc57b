// Decide, resolve, check, dial. A denied name is never looked up; an allowed name is resolved by leash itself and
// every address it resolves to must pass the address guard; every spelling of a private address is refused
// before anything is dialled.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curl } from '../helpers/clients.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startHttpOrigin, startTcpSink, type TcpSink, type TestOrigin } from '../helpers/origin.js';
import { policy, startLeash, type TestLeash } from '../helpers/leash.js';

let dns: TestDnsServer;
let sink: TcpSink;
let origin: TestOrigin;
let open: TestLeash;
let guarded: TestLeash;

beforeAll(async () => {
  sink = await startTcpSink();
  origin = await startHttpOrigin();
  dns = await startDnsServer({
    'rebind.test': { A: ['127.0.0.1'] },
    'mixed.test': { A: ['127.0.0.2', '10.0.0.1'] },
    'metadata.test': { A: ['169.254.169.254'] },
    'mapped.test': { AAAA: ['::ffff:127.0.0.1'] },
    'public.test': { A: ['127.0.0.1'] },
    'denied.test': { A: ['127.0.0.1'] },
  });
  // Allows every host and port: only the address guard stands between the agent and the machine's own network.
  open = await startLeash(
    policy(`
settings:
  dns: { servers: ["${dns.address}"], timeout: 1s }
rules:
  - { name: denied, domain: denied.test, ports: "*", effect: deny }
  - { name: everything, domain: "*", ports: "*", broad: true, effect: allow }
`),
  );
  guarded = await startLeash(
    policy(`
settings:
  dns: { servers: ["${dns.address}"], timeout: 1s }
  network:
    allowCidrs: ["127.0.0.0/8"]
    denyCidrs: ["127.0.0.2/32"]
rules:
  - { name: everything, domain: "*", ports: "*", broad: true, effect: allow }
`),
  );
});

afterAll(async () => {
  await open?.stop();
  await guarded?.stop();
  await sink?.close();
  await origin?.close();
  await dns?.close();
});

describe('every spelling of a private or special address is refused without dialling', () => {
  it.each([
    ['loopback', '127.0.0.1'],
    ['loopback, short form', '127.1'],
    ['loopback, hex', '0x7f.0.0.1'],
    ['loopback, hex short', '0x7f.1'],
    ['loopback, decimal integer', '2130706433'],
    ['loopback, octal', '0177.0.0.1'],
    ['loopback, IPv4-mapped IPv6', '[::ffff:127.0.0.1]'],
    ['loopback, IPv4-mapped IPv6 hex', '[::ffff:7f00:1]'],
    ['IPv6 loopback', '[::1]'],
    ['unspecified', '0.0.0.0'],
    ['private 10/8', '10.1.2.3'],
    ['private 192.168/16', '192.168.1.1'],
    ['private 172.16/12', '172.16.0.1'],
    ['link-local', '169.254.1.1'],
    ['metadata', '169.254.169.254'],
    ['metadata, decimal', '2852039166'],
    ['metadata, mapped IPv6', '[::ffff:a9fe:a9fe]'],
    ['CGNAT', '100.64.0.1'],
    ['NAT64-embedded loopback', '[64:ff9b::7f00:1]'],
    ['6to4-embedded loopback', '[2002:7f00:1::1]'],
    ['unique local IPv6', '[fd00::1]'],
    ['link-local IPv6', '[fe80::1]'],
  ])('%s (%s) → 403 address_denied', async (_name, host) => {
    const before = sink.connections;
    const r = await curl({ url: `http://${host}:${sink.port}/`, proxy: open.url });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=everything; reason=address_denied');
    expect(sink.connections).toBe(before);
  });
});

describe('names are resolved by leash and their addresses checked', () => {
  it.each([
    ['resolving to loopback (DNS rebinding)', 'rebind.test'],
    ['with one private answer among several', 'mixed.test'],
    ['resolving to the metadata service', 'metadata.test'],
    ['resolving to an IPv4-mapped loopback over AAAA', 'mapped.test'],
  ])('a name %s is refused', async (_name, host) => {
    const before = sink.connections;
    const r = await curl({ url: `http://${host}:${sink.port}/`, proxy: open.url });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=everything; reason=address_denied');
    expect(sink.connections).toBe(before);
  });

  it('a denied name is never looked up in DNS', async () => {
    dns.reset();
    const r = await curl({ url: `http://denied.test:${sink.port}/`, proxy: open.url });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=denied; reason=denied_by_rule');
    expect(dns.queriesFor('denied.test')).toBe(0);
    // The same name through CONNECT.
    await curl({ url: `https://denied.test:${sink.port}/`, proxy: open.url });
    expect(dns.queriesFor('denied.test')).toBe(0);
  });

  it('an allowed name is looked up by leash, through the configured resolver', async () => {
    dns.reset();
    await curl({ url: `http://rebind.test:${sink.port}/`, proxy: open.url });
    expect(dns.queriesFor('rebind.test')).toBeGreaterThan(0);
  });

  it('a name that does not exist is 502 dns_failure', async () => {
    const r = await curl({ url: `http://missing.test:${sink.port}/`, proxy: open.url });
    expect(r.status).toBe(502);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=everything; reason=dns_failure');
  });
});

describe('settings.network adjusts the guard', () => {
  it('allowCidrs lets a covered address through, and leash dials exactly the address it checked', async () => {
    const r = await curl({ url: `http://public.test:${origin.port}/via-allow`, proxy: guarded.url });
    expect(r.status).toBe(200);
    const record = (await guarded.records()).find((x) => x.path === '/via-allow');
    expect(record?.resolved).toBe('127.0.0.1');
  });

  it('denyCidrs beats allowCidrs', async () => {
    const r = await curl({ url: `http://127.0.0.2:${origin.port}/`, proxy: guarded.url });
    expect(r.status).toBe(403);
    expect(r.headers['x-leash-decision']).toBe('deny; rule=everything; reason=address_denied');
  });

  it('the metadata address stays refused when allowCidrs covers only loopback', async () => {
    const r = await curl({ url: `http://169.254.169.254:${origin.port}/`, proxy: guarded.url });
    expect(r.status).toBe(403);
    expect(r.body).toContain('cloud metadata');
  });
});
