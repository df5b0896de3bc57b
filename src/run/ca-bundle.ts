// The CA bundle a wrapped command trusts while leash intercepts: the system's roots, the CA files the command's
// environment already named (a company CA keeps working), and leash's CA certificate. One file for every
// ecosystem's variable (environment.ts), so a host leash splices instead of intercepting still verifies.
// Never: copy anything but CERTIFICATE blocks (leash-ca.pem holds only the certificate, and a key that strayed
// into a named file must not spread), or leave the bundle readable by others (it lives in the run's 0700 dir).

import { readFile, writeFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { CA_VARIABLES, type Environment } from './environment.js';

/** Debian/Ubuntu/Alpine, Fedora/RHEL, macOS/BSD. */
export const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/cert.pem',
];

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

export function certificatesIn(pem: string): string[] {
  return (pem.match(CERTIFICATE) ?? []).map((block) => block.replace(/\r\n/g, '\n'));
}

async function readIfThere(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** The system's roots: the first bundle the system has, else the Mozilla roots compiled into Node. */
async function systemRoots(): Promise<string[]> {
  for (const file of SYSTEM_BUNDLES) {
    const text = await readIfThere(file);
    if (text !== undefined && certificatesIn(text).length > 0) return certificatesIn(text);
  }
  return [...rootCertificates];
}

/**
 * Writes the bundle to `target` (mode 0600) and returns how many certificates it holds. Throws when leash's CA
 * certificate cannot be read: a command that cannot verify leash would fail at every intercepted host.
 */
export async function writeCaBundle(target: string, leashCaCert: string, base: Environment): Promise<number> {
  const leash = certificatesIn(await readFile(leashCaCert, 'utf8'));
  if (leash.length === 0) throw new Error(`${leashCaCert} holds no certificate`);
  const inherited: string[] = [];
  for (const file of new Set(CA_VARIABLES.map((key) => base[key]).filter((v): v is string => !!v))) {
    inherited.push(...certificatesIn((await readIfThere(file)) ?? ''));
  }
  const all = [...new Set([...(await systemRoots()), ...inherited, ...leash])];
  await writeFile(target, `${all.join('\n')}\n`, { mode: 0o600 });
  return all.length;
}
