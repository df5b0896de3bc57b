// Leash's CA and the leaves it mints: a key only its owner can read, no silent replacement, a CA outside its
// validity period or with a key that is not its own refused at load (and leash serve exits 1 on it), a warning a
// month before it expires, and leaf certificates that a real TLS client accepts for exactly their host, minted fast.
// The unusable CAs are minted at run time with node-forge, independently of the code under test.

import { readFile, stat, writeFile, chmod, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import crypto, { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { caExpiryWarning, caPaths, createCa, ensureCa, loadCa } from '../../src/tls/ca.js';
import { LeafMinter } from '../../src/tls/leaf.js';
import { tempDir } from '../helpers/audit-sink.js';
import { run } from '../cli/run.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A self-signed CA valid from `notBefore` to `notAfter` (days from now), as PEM; forge signs, node makes the key. */
function mintCa(notBefore: number, notAfter: number): { certPem: string; keyPem: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = `01${crypto.randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() + notBefore * DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + notAfter * DAY_MS);
  const subject = [{ name: 'commonName', value: 'leash test CA (validity under test)' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Writes a CA into `dir` as leash keeps it: certificate 0644, key 0600. */
async function writeCa(dir: string, ca: { certPem: string; keyPem: string }): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { certPath, keyPath } = caPaths(dir);
  await writeFile(certPath, ca.certPem, { mode: 0o644 });
  await writeFile(keyPath, ca.keyPem, { mode: 0o600 });
}

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

describe('a CA leash must not sign with', () => {
  it.each<[name: string, notBefore: number, notAfter: number, code: string, message: RegExp]>([
    [
      'expired yesterday',
      -400,
      -1,
      'LEASH_CA_EXPIRED',
      /^the CA certificate \S+\/leash-ca\.pem expired on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; run `leash ca init --certs \S+ --force` to make a new one \(agents must trust it again\)$/,
    ],
    [
      'not valid until tomorrow',
      1,
      400,
      'LEASH_CA_EXPIRED',
      /^the CA certificate \S+\/leash-ca\.pem is not valid yet: valid from \d{4}-\d\d-\d\d [\d:]+ UTC, .*: is the clock right\?$/,
    ],
  ])('is refused when %s', async (_name, notBefore, notAfter, code, message) => {
    const dir = await tempDir();
    await writeCa(dir, mintCa(notBefore, notAfter));
    const refusal = loadCa(dir);
    await expect(refusal).rejects.toMatchObject({ code });
    await expect(refusal).rejects.toThrow(message);
  });

  it("is refused when its key is another CA's", async () => {
    const dir = await tempDir();
    await writeCa(dir, { certPem: mintCa(-1, 400).certPem, keyPem: mintCa(-1, 400).keyPem });
    const refusal = loadCa(dir);
    await expect(refusal).rejects.toMatchObject({ code: 'LEASH_CA_KEY_MISMATCH' });
    await expect(refusal).rejects.toThrow(/^\S+\/leash-ca\.key does not belong to \S+\/leash-ca\.pem: /);
  });

  it('is never replaced by ensureCa: the refusal stands and the files are untouched', async () => {
    const dir = await tempDir();
    const expired = mintCa(-400, -1);
    await writeCa(dir, expired);
    await expect(ensureCa(dir, () => {})).rejects.toMatchObject({ code: 'LEASH_CA_EXPIRED' });
    expect(await readFile(caPaths(dir).certPath, 'utf8')).toBe(expired.certPem);
    expect(await readFile(caPaths(dir).keyPath, 'utf8')).toBe(expired.keyPem);
  });

  it('is judged at the time given, so the clock is a parameter', async () => {
    const dir = await tempDir();
    await writeCa(dir, mintCa(-1, 10));
    expect(await loadCa(dir)).toBeDefined();
    await expect(loadCa(dir, { now: new Date(Date.now() + 11 * DAY_MS) })).rejects.toMatchObject({
      code: 'LEASH_CA_EXPIRED',
    });
    await expect(loadCa(dir, { now: new Date(Date.now() - 2 * DAY_MS) })).rejects.toMatchObject({
      code: 'LEASH_CA_EXPIRED',
    });
  });

  it("names the default folder's command plainly: leash ca init --force", async () => {
    const dir = await tempDir();
    await writeCa(path.join(dir, 'certs'), mintCa(-400, -1));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await expect(loadCa('certs')).rejects.toThrow(
        /^the CA certificate certs\/leash-ca\.pem expired on .*; run `leash ca init --force` to make a new one \(agents must trust it again\)$/,
      );
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('a CA near its end', () => {
  it.each<[name: string, daysLeft: number, warning: RegExp | undefined]>([
    ['ten years left (a new CA): no warning', 3650, undefined],
    ['31 days left: no warning yet', 31, undefined],
    [
      '29 days left: a warning with the date and the command',
      29.5,
      /^leash: warning: the CA certificate \S+ expires on \d{4}-\d\d-\d\d [\d:]+ UTC \(in 29 days\); before then run `leash ca init --certs \S+ --force` and make agents trust the new one$/,
    ],
    ['hours left', 0.25, /\(in less than a day\)/],
  ])('%s', async (_name, daysLeft, warning) => {
    const dir = await tempDir();
    await writeCa(dir, mintCa(-1, daysLeft));
    const ca = (await loadCa(dir))!;
    const text = caExpiryWarning(ca, dir, new Date());
    if (warning) expect(text).toMatch(warning);
    else expect(text).toBeUndefined();
  });
});

describe('leash serve with such a CA', () => {
  const INTERCEPTING =
    'version: 1\nrules:\n  - { name: api, domain: api.example.test, ports: [443], paths: ["/v1/**"], effect: allow }\n';

  /** `leash serve` on a policy that intercepts, with `certs`; bounded, so a regression that starts fails instead of hanging. */
  async function serve(certs: string) {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'policy.yaml'), INTERCEPTING);
    const started = run(
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--policy',
      path.join(dir, 'policy.yaml'),
      '--certs',
      certs,
      '--audit',
      path.join(dir, 'audit.log'),
      '--control',
      path.join(dir, 'leash-admin.sock'),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('leash serve started with a CA it must refuse')), 10_000).unref(),
    );
    return Promise.race([started, timeout]);
  }

  it.each<[name: string, ca: () => { certPem: string; keyPem: string }, message: RegExp]>([
    [
      'expired',
      () => mintCa(-400, -1),
      /expired on .*; run `leash ca init --certs \S+ --force` to make a new one \(agents must trust it again\)/,
    ],
    ['not valid yet', () => mintCa(1, 400), /is not valid yet: valid from .*: is the clock right\?/],
    [
      "with another CA's key",
      () => ({ certPem: mintCa(-1, 400).certPem, keyPem: mintCa(-1, 400).keyPem }),
      /leash-ca\.key does not belong to \S+leash-ca\.pem/,
    ],
  ])('refuses to start when it is %s: exit 1, the reason on stderr', async (_name, ca, message) => {
    const certs = path.join(await tempDir(), 'certs');
    await writeCa(certs, ca());
    const result = await serve(certs);
    expect(result.code).toBe(1);
    expect(result.err.join('\n')).toMatch(
      new RegExp(`^leash serve: the CA certificate|^leash serve: \\S+leash-ca\\.key`, 'm'),
    );
    expect(result.err.join('\n')).toMatch(message);
    expect(result.err.join('\n')).not.toMatch(/listening on/);
  });

  it('starts with one that expires within 30 days, and warns on stderr', async () => {
    const dir = await tempDir();
    const certs = path.join(dir, 'certs');
    await writeCa(certs, mintCa(-1, 10));
    await writeFile(path.join(dir, 'policy.yaml'), INTERCEPTING);
    const { startServe } = await import('../../src/cli/serve.js');
    const err: string[] = [];
    const running = await startServe(
      {
        listen: '127.0.0.1:0',
        policy: [path.join(dir, 'policy.yaml')],
        certs,
        audit: path.join(dir, 'audit.log'),
        control: path.join(dir, 'leash-admin.sock'),
      },
      { out: () => {}, err: (l) => err.push(l), env: {} },
    );
    await running.stop();
    expect(err.join('\n')).toMatch(
      /^leash: warning: the CA certificate \S+leash-ca\.pem expires on .* \(in 9 days\); before then run `leash ca init --certs \S+ --force`/m,
    );
    expect(err.join('\n')).toMatch(/^listening on /m);
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
      const c = tls.connect(
        {
          port,
          host: '127.0.0.1',
          servername: net.isIP(host) ? '' : host,
          ca: ca.certPem,
          checkServerIdentity: (_h, cert) => tls.checkServerIdentity(host, cert),
        },
        () => {},
      );
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

describe('replicas starting at once on one shared certs/ directory', () => {
  it("both end up with the same CA: the one that lost the race to create it loads the winner's", async () => {
    const dir = path.join(await tempDir(), 'certs');
    const [a, b] = await Promise.all([ensureCa(dir, () => {}), ensureCa(dir, () => {})]);
    expect(a.certPem).toBe(b.certPem);
    expect(a.certPem).toBe(await readFile(caPaths(dir).certPath, 'utf8'));
  });
});
