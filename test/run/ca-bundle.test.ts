// The merged CA bundle: system roots, the CA files the environment named, leash's CA; certificates only.

import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { certificatesIn, writeCaBundle } from '../../src/run/ca-bundle.js';
import { tempDir } from '../helpers/audit-sink.js';
import { createTestCa } from '../helpers/certs.js';

describe('writeCaBundle', () => {
  it("holds the system roots, an inherited CA and leash's CA, each once, never a key, mode 0600", async () => {
    const dir = await tempDir();
    const leash = createTestCa('leash run test CA');
    const corp = createTestCa('corporate CA');
    await writeFile(path.join(dir, 'leash-ca.pem'), leash.certPem);
    // A CA file the environment named, with a key that strayed into it and the leash CA repeated.
    await writeFile(path.join(dir, 'corp.pem'), `${corp.certPem}\n${corp.keyPem}\n${leash.certPem}`);
    const target = path.join(dir, 'bundle.pem');
    const count = await writeCaBundle(target, path.join(dir, 'leash-ca.pem'), {
      NODE_EXTRA_CA_CERTS: path.join(dir, 'corp.pem'),
      SSL_CERT_FILE: path.join(dir, 'missing.pem'),
    });
    const text = await readFile(target, 'utf8');
    const blocks = certificatesIn(text);
    expect(blocks.length).toBe(count);
    expect(count).toBeGreaterThan(10); // the system's roots
    expect(blocks.filter((b) => b === certificatesIn(leash.certPem)[0])).toHaveLength(1);
    expect(blocks).toContain(certificatesIn(corp.certPem)[0]);
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect((await stat(target)).mode & 0o777).toBe(0o600);
  });

  it("refuses when leash's CA file holds no certificate", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'empty.pem'), 'nothing here');
    await expect(writeCaBundle(path.join(dir, 'b.pem'), path.join(dir, 'empty.pem'), {})).rejects.toThrow(
      /holds no certificate/,
    );
  });
});
