// Test certificates: a throwaway CA, and leaf certificates for loopback origins, minted at run time.
//
// Why: TLS tests need origins that real clients (curl, python, undici) verify for real, against a CA file the
// test hands them, so that "verification passed" means something. Minting per run keeps private keys out of the
// repository and lets a test ask for an expired leaf or a name mismatch.
//
// Never: write key material to the repository, disable verification (no -k, no rejectUnauthorized: false,
// no NODE_TLS_REJECT_UNAUTHORIZED), or reuse a CA across test files through module state.
// RSA keys come from Node's native generator (tens of milliseconds); node-forge only lays out the X.509 structure.

import crypto from 'node:crypto';
import net from 'node:net';
import forge from 'node-forge';

export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** Validity ended yesterday, so any verifying client must refuse it. */
  expired?: boolean;
}

export interface TestCa extends CertAndKey {
  /** A leaf for `hosts` (DNS names or IP literals, IPv6 with or without brackets), signed by this CA. */
  issue(hosts: string[], opts?: IssueOptions): CertAndKey;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

interface KeyPair {
  keyPem: string;
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
}

function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    keyPem: privateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
  };
}

/** RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; unique per issue so clients never confuse leaves. */
function randomSerial(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f; // high bit clear: DER INTEGER stays positive
  return '01' + bytes.toString('hex');
}

// RFC 5280 §4.1.2.6: CN is at most 64 characters.
function commonNameFor(host: string): string {
  return host.slice(0, 64);
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** RFC 5280 §4.2.1.6 GeneralName: dNSName is [2], iPAddress is [7]. */
function subjectAltName(host: string): { type: number; value?: string; ip?: string } {
  const bare = stripBrackets(host);
  return net.isIP(bare) ? { type: 7, ip: bare } : { type: 2, value: bare };
}

export function createTestCa(commonName = 'leash test CA'): TestCa {
  const caKeys = generateKeyPair();
  const caCert = forge.pki.createCertificate();
  const now = Date.now();
  caCert.publicKey = caKeys.publicKey;
  caCert.serialNumber = randomSerial();
  caCert.validity.notBefore = new Date(now - HOUR_MS);
  caCert.validity.notAfter = new Date(now + 7 * DAY_MS);
  const caSubject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'leash tests' },
  ];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(caKeys.privateKey, forge.md.sha256.create());
  const caCertPem = forge.pki.certificateToPem(caCert);
  const caKeyId = caCert.generateSubjectKeyIdentifier().getBytes();

  // One leaf key per CA: key generation dominates issuing time, and sharing a key across test leaves is harmless.
  let leafKeys: KeyPair | undefined;

  return {
    certPem: caCertPem,
    keyPem: caKeys.keyPem,
    issue(hosts, opts = {}) {
      if (hosts.length === 0) throw new Error('issue() needs at least one host');
      leafKeys ??= generateKeyPair();
      const leaf = forge.pki.createCertificate();
      const issuedAt = Date.now();
      leaf.publicKey = leafKeys.publicKey;
      leaf.serialNumber = randomSerial();
      if (opts.expired) {
        leaf.validity.notBefore = new Date(issuedAt - 2 * DAY_MS);
        leaf.validity.notAfter = new Date(issuedAt - DAY_MS);
      } else {
        leaf.validity.notBefore = new Date(issuedAt - HOUR_MS);
        leaf.validity.notAfter = new Date(issuedAt + DAY_MS);
      }
      leaf.setSubject([{ name: 'commonName', value: commonNameFor(stripBrackets(hosts[0]!)) }]);
      leaf.setIssuer(caCert.subject.attributes);
      leaf.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        // Clients match names against SAN only (RFC 6125 §6.4.4); CN above is for humans reading logs.
        { name: 'subjectAltName', altNames: hosts.map(subjectAltName) },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
      ]);
      leaf.sign(caKeys.privateKey, forge.md.sha256.create());
      return { certPem: forge.pki.certificateToPem(leaf), keyPem: leafKeys.keyPem };
    },
  };
}
