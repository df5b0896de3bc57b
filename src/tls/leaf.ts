// Per-host certificates for intercepted tunnels: subjectAltName = the CONNECT host (DNS name or IP), short-lived
// with a backdated start (clocks drift), signed by leash's CA. One leaf key pair serves every host (the common
// practice of intercepting proxies: the key never leaves the process), so minting costs one native RSA signature.
// A bounded LRU keeps the secure contexts; an expiring leaf is minted again before clients would see it lapse.

import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { LRUCache } from 'lru-cache';
import forge from 'node-forge';
import { randomSerial, signWith, type CertificateAuthority } from './ca.js';

const HOUR_MS = 60 * 60 * 1000;
const LEAF_VALIDITY_MS = 7 * 24 * HOUR_MS;
/** Re-mint when less than this is left, so a cached leaf never expires in a client's hands. */
const RENEW_BEFORE_MS = 24 * HOUR_MS;

interface Leaf {
  readonly context: tls.SecureContext;
  readonly certPem: string;
  readonly notAfter: number;
}

export class LeafMinter {
  private readonly cache: LRUCache<string, Leaf>;
  private readonly keyPem: string;
  private readonly publicKey: forge.pki.PublicKey;

  constructor(
    private readonly ca: CertificateAuthority,
    options: { maxHosts?: number; now?: () => number; keyPair?: crypto.KeyPairKeyObjectResult } = {},
  ) {
    this.cache = new LRUCache({ max: options.maxHosts ?? 1000 });
    this.now = options.now ?? Date.now;
    const { privateKey, publicKey } = options.keyPair ?? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  }

  /** Generates the leaf key pair off the event loop (RSA key generation takes 50-300 ms). */
  static async create(
    ca: CertificateAuthority,
    options: { maxHosts?: number; now?: () => number } = {},
  ): Promise<LeafMinter> {
    const keyPair = await new Promise<crypto.KeyPairKeyObjectResult>((resolve, reject) =>
      crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) =>
        err ? reject(err) : resolve({ publicKey, privateKey }),
      ),
    );
    return new LeafMinter(ca, { ...options, keyPair });
  }

  private readonly now: () => number;

  /** The TLS context presenting a certificate for `host` (a normalised host name or IP address). */
  contextFor(host: string): tls.SecureContext {
    return this.leafFor(host).context;
  }

  leafFor(host: string): Leaf {
    const now = this.now();
    const cached = this.cache.get(host);
    if (cached && cached.notAfter - now > RENEW_BEFORE_MS) return cached;
    const leaf = this.mint(host, now);
    this.cache.set(host, leaf);
    return leaf;
  }

  private mint(host: string, now: number): Leaf {
    const cert = forge.pki.createCertificate();
    cert.publicKey = this.publicKey;
    cert.serialNumber = randomSerial();
    cert.validity.notBefore = new Date(now - HOUR_MS);
    const notAfter = Math.min(now + LEAF_VALIDITY_MS, this.ca.cert.validity.notAfter.getTime());
    cert.validity.notAfter = new Date(notAfter);
    cert.setSubject([{ name: 'commonName', value: host.slice(0, 64) }]);
    cert.setIssuer(this.ca.cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [net.isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }] },
    ]);
    signWith(cert, this.ca.key);
    const certPem = forge.pki.certificateToPem(cert);
    return { context: tls.createSecureContext({ key: this.keyPem, cert: certPem }), certPem, notAfter };
  }
}
