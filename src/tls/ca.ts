// Leash's own certificate authority, used only to intercept the tunnels whose rules must see inside HTTPS. Created
// per installation (never shipped, never committed), the key readable by its owner only. Agents trust its
// certificate through their ecosystem's CA settings (`leash ca trust` prints how).
// Loading refuses a CA leash must not sign with: outside its validity period (every leaf would fail verification,
// or the clock is wrong) or with a key that is not the certificate's (every leaf would carry a signature the
// certificate cannot verify). Never: replace an existing CA on its own, since agents trust it.

import crypto from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import forge from 'node-forge';
import { LeashError } from '../errors.js';

export const CA_CERT_FILE = 'leash-ca.pem';
export const CA_KEY_FILE = 'leash-ca.key';
export const DEFAULT_CERTS_DIR = 'certs';

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_DAYS = 3650;
/** `leash serve` warns at start when the CA expires within this many days. */
export const CA_EXPIRY_WARNING_DAYS = 30;

export interface CertificateAuthority {
  readonly certPem: string;
  readonly cert: forge.pki.Certificate;
  /** Native key for signing leaves (node:crypto is ~20x faster than forge's RSA). */
  readonly key: crypto.KeyObject;
  readonly certPath: string;
}

export function caPaths(dir: string): { certPath: string; keyPath: string } {
  return { certPath: path.join(dir, CA_CERT_FILE), keyPath: path.join(dir, CA_KEY_FILE) };
}

/** Creates a new CA in `dir`; refuses to replace an existing one unless `force`. */
export async function createCa(
  dir: string,
  options: { force?: boolean; now?: Date } = {},
): Promise<{ certPath: string; keyPath: string }> {
  const { certPath, keyPath } = caPaths(dir);
  if (!options.force && ((await exists(certPath)) || (await exists(keyPath)))) {
    throw new LeashError(
      'LEASH_CA_EXISTS',
      `a CA already exists in ${dir} (${CA_CERT_FILE}, ${CA_KEY_FILE}); agents trust it, so replacing it breaks them: pass --force to replace it anyway`,
    );
  }
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(now.getTime() - DAY_MS);
  cert.validity.notAfter = new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS);
  const subject = [
    { name: 'commonName', value: `leash egress CA (${hostLabel()})` },
    { name: 'organizationName', value: 'leash' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWith(cert, privateKey);
  await mkdir(dir, { recursive: true });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFile(keyPath, keyPem, { mode: 0o600, flag: options.force ? 'w' : 'wx' });
  // writeFile's mode applies only to a new file; a replaced key must not keep looser permissions.
  await chmod(keyPath, 0o600);
  await writeFile(certPath, forge.pki.certificateToPem(cert), { mode: 0o644, flag: options.force ? 'w' : 'wx' });
  return { certPath, keyPath };
}

/**
 * Loads the CA in `dir`, or undefined when there is none. Refused: a key others can read, a certificate outside
 * its validity period at `now`, and a key that is not the certificate's.
 */
export async function loadCa(dir: string, options: { now?: Date } = {}): Promise<CertificateAuthority | undefined> {
  const { certPath, keyPath } = caPaths(dir);
  if (!(await exists(certPath)) && !(await exists(keyPath))) return undefined;
  let ca: CertificateAuthority;
  let x509: crypto.X509Certificate;
  try {
    const info = await stat(keyPath);
    if ((info.mode & 0o077) !== 0) {
      throw new LeashError(
        'LEASH_CA_INVALID',
        `${keyPath} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); run: chmod 600 ${keyPath}`,
      );
    }
    const certPem = await readFile(certPath, 'utf8');
    const key = crypto.createPrivateKey(await readFile(keyPath, 'utf8'));
    x509 = new crypto.X509Certificate(certPem);
    ca = { certPem, cert: forge.pki.certificateFromPem(certPem), key, certPath };
  } catch (err) {
    if (err instanceof LeashError) throw err;
    throw new LeashError('LEASH_CA_INVALID', `cannot load the CA in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (!x509.checkPrivateKey(ca.key)) {
    throw new LeashError(
      'LEASH_CA_KEY_MISMATCH',
      `${keyPath} does not belong to ${certPath}: restore the key made with it, or run \`${initCommand(dir)}\` to make a new CA (agents must trust it again)`,
    );
  }
  checkValidity(ca.cert, certPath, dir, options.now ?? new Date());
  return ca;
}

/** Throws when `cert` is outside its validity period at `now` (RFC 5280 §4.1.2.5: both ends inclusive). */
function checkValidity(cert: forge.pki.Certificate, certPath: string, dir: string, now: Date): void {
  const { notBefore, notAfter } = cert.validity;
  if (now.getTime() > notAfter.getTime()) {
    throw new LeashError(
      'LEASH_CA_EXPIRED',
      `the CA certificate ${certPath} expired on ${formatDate(notAfter)}; run \`${initCommand(dir)}\` to make a new one (agents must trust it again)`,
    );
  }
  if (now.getTime() < notBefore.getTime()) {
    throw new LeashError(
      'LEASH_CA_EXPIRED',
      `the CA certificate ${certPath} is not valid yet: valid from ${formatDate(notBefore)}, and this machine's clock says ${formatDate(now)}: is the clock right?`,
    );
  }
}

/** The warning `leash serve` prints at start when the CA expires within CA_EXPIRY_WARNING_DAYS of `now`. */
export function caExpiryWarning(ca: CertificateAuthority, dir: string, now: Date): string | undefined {
  const left = ca.cert.validity.notAfter.getTime() - now.getTime();
  if (left > CA_EXPIRY_WARNING_DAYS * DAY_MS) return undefined;
  const days = Math.floor(left / DAY_MS);
  const when = days === 0 ? 'in less than a day' : `in ${days} day${days === 1 ? '' : 's'}`;
  return `leash: warning: the CA certificate ${ca.certPath} expires on ${formatDate(ca.cert.validity.notAfter)} (${when}); before then run \`${initCommand(dir)}\` and make agents trust the new one`;
}

/** Loads the CA, creating it on first use; `log` says where a new one was written. Never replaces a refused one. */
export async function ensureCa(
  dir: string,
  log: (line: string) => void,
  options: { now?: Date } = {},
): Promise<CertificateAuthority> {
  const existing = await loadCa(dir, options);
  if (existing) return existing;
  let paths: { certPath: string; keyPath: string };
  try {
    paths = await createCa(dir, options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'LEASH_CA_EXISTS') throw err;
    // Another process (a replica starting at the same moment on a shared certs/) is creating it: use that one,
    // once it has written both files.
    for (let attempt = 0; attempt < 60; attempt++) {
      await new Promise((r) => setTimeout(r, 50));
      const theirs = await loadCa(dir, options).catch(() => undefined);
      if (theirs) return theirs;
    }
    throw new LeashError(
      'LEASH_CA_INVALID',
      `another process started creating a CA in ${dir} and did not finish it within 3 s; remove the partial files and run leash ca init --certs ${dir}`,
      { cause: err },
    );
  }
  const { certPath, keyPath } = paths;
  log(
    `leash: created a CA for TLS interception: certificate ${certPath}, key ${keyPath} (mode 0600); make agents trust it: leash ca trust --certs ${dir}`,
  );
  const created = await loadCa(dir, options);
  if (!created) throw new LeashError('LEASH_CA_INVALID', `the CA just written to ${dir} cannot be read back`);
  return created;
}

function initCommand(dir: string): string {
  return path.normalize(dir) === DEFAULT_CERTS_DIR ? 'leash ca init --force' : `leash ca init --certs ${dir} --force`;
}

/** `2026-01-31 23:59:59 UTC`: unambiguous in any locale and timezone. */
function formatDate(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * Signs a forge certificate with a native key: forge builds the X.509 structure, node:crypto does the RSA work.
 */
export function signWith(cert: forge.pki.Certificate, key: crypto.KeyObject): void {
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption as string;
  (cert as unknown as { siginfo: { algorithmOid: string } }).siginfo.algorithmOid = cert.signatureOid;
  // getTBSCertificate exists in forge but is missing from its type definitions.
  const getTbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 })
    .getTBSCertificate;
  const tbs = forge.asn1.toDer(getTbs(cert)).getBytes();
  cert.signature = crypto.sign('sha256', Buffer.from(tbs, 'binary'), key).toString('binary');
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets, unique per certificate. */
export function randomSerial(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return `01${bytes.toString('hex')}`;
}

function hostLabel(): string {
  return `${process.env.HOSTNAME ?? 'host'} ${new Date().toISOString().slice(0, 10)}`.slice(0, 40);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
