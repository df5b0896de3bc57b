// Leash's CA and the leaves it mints: a key only its owner can read, no silent replacement, and leaf certificates
// that a real TLS client accepts for exactly their host, minted fast.

import { readFile, stat, chmod } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { caPaths, createCa, loadCa } from '../../src/tls/ca.js';
import { LeafMinter } from '../../src/tls/leaf.js';
import { tempDir } from '../helpers/audit-sink.js';

describe('the CA', () => {
  it('is created with a 0600 key and a CA certificate', async () => {
    const dir = await tempDir();
    const { certPath, keyPath } = await createCa(dir);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(await readFile(certPath));
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it('refuses to overwrite an existing CA without force, and replaces it with force', async () => {
    const dir = await tempDir();
    await createCa(dir);
    const before = await readFile(caPaths(dir).certPath, 'utf8');
    await expect(createCa(dir)).rejects.toMatchObject({ code: 'LEASH_CA_EXISTS' });
    await chmod(caPaths(dir).keyPath, 0o644);
    await createCa(dir, { force: true });
    expect(await readFile(caPaths(dir).certPath, 'utf8')).not.toBe(before);
    expect((await stat(caPaths(dir).keyPath)).mode & 0o777).toBe(0o600);
  });

  it('refuses to load a key that group or others can read', async () => {
    const dir = await tempDir();
    await createCa(dir);
    await chmod(caPaths(dir).keyPath, 0o640);
    await expect(loadCa(dir)).rejects.toMatchObject({ code: 'LEASH_CA_INVALID' });
  });

  it('loads as undefined when there is none', async () => {
    expect(await loadCa(await tempDir())).toBeUndefined();
  });
});

describe('leaf certificates', () => {
  it.each([
    ['a host name', 'api.example.test', 'DNS:api.example.test'],
    ['an IPv4 address', '127.0.0.1', 'IP Address:127.0.0.1'],
    ['an IPv6 address', '::1', 'IP Address:0:0:0:0:0:0:0:1'],
  ])('for %s are accepted by a TLS client that trusts the CA', async (_name, host, san) => {
    const dir = await tempDir();
    await createCa(dir);
    const ca = (await loadCa(dir))!;
    const minter = new LeafMinter(ca);
    const leaf = minter.leafFor(host);
    const x509 = new X509Certificate(leaf.certPem);
    expect(x509.subjectAltName).toBe(san);
    expect(x509.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(new Date(x509.validFrom).getTime()).toBeLessThan(Date.now() - 30 * 60 * 1000);

    // The way interception uses it: a server-side TLSSocket over an accepted connection, with the leaf's context.
    const server = net.createServer((raw) => {
      const s = new tls.TLSSocket(raw, { isServer: true, secureContext: minter.contextFor(host) });
      s.on('secure', () => s.end('ok'));
      s.on('error', () => raw.destroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    const text = await new Promise<string>((resolve, reject) => {
      const c = tls.connect({ port, host: '127.0.0.1', servername: net.isIP(host) ? '' : host, ca: ca.certPem, checkServerIdentity: (_h, cert) => tls.checkServerIdentity(host, cert) }, () => {});
      let out = '';
      c.on('data', (d: Buffer) => (out += d.toString()));
      c.on('end', () => resolve(out));
      c.on('error', reject);
    });
    expect(text).toBe('ok');
    server.close();
  });

  it('are cached per host and minted again near expiry', async () => {
    const dir = await tempDir();
    await createCa(dir);
    let now = Date.now();
    const minter = new LeafMinter((await loadCa(dir))!, { now: () => now });
    const first = minter.leafFor('a.test');
    expect(minter.leafFor('a.test')).toBe(first);
    now += 6.5 * 24 * 3600 * 1000;
    expect(minter.leafFor('a.test')).not.toBe(first);
  });

  it('are minted in a few milliseconds', async () => {
    const dir = await tempDir();
    await createCa(dir);
    const minter = new LeafMinter((await loadCa(dir))!);
    minter.leafFor('warm.test');
    const started = performance.now();
    for (let i = 0; i < 20; i++) minter.leafFor(`host${i}.test`);
    const perLeaf = (performance.now() - started) / 20;
    // A loose bound for a noisy shared machine; the benchmark reports the real figure.
    expect(perLeaf).toBeLessThan(50);
  });
});
