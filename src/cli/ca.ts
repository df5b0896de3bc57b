// `leash ca init [--certs DIR] [--force]` creates leash's CA for TLS interception; `leash ca trust [--certs DIR]`
// prints how to make each agent ecosystem trust it.

import path from 'node:path';
import { LeashError } from '../errors.js';
import { caPaths, createCa, DEFAULT_CERTS_DIR } from '../tls/ca.js';
import type { CommandIo } from './io.js';

export async function caCommand(
  options: { certs?: string; force?: boolean },
  args: readonly string[],
  io: CommandIo,
): Promise<number> {
  const dir = options.certs ?? DEFAULT_CERTS_DIR;
  switch (args[0]) {
    case 'init': {
      const { certPath, keyPath } = await createCa(dir, { force: options.force });
      io.out(`created ${certPath} (certificate) and ${keyPath} (key, mode 0600)`);
      io.out(`next: make agents trust it: leash ca trust --certs ${dir}`);
      return 0;
    }
    case 'trust':
      io.out(trustInstructions(path.resolve(caPaths(dir).certPath)));
      return 0;
    default:
      throw new LeashError(
        'LEASH_USAGE',
        'usage: leash ca init [--certs DIR] [--force] | leash ca trust [--certs DIR]',
      );
  }
}

export function trustInstructions(cert: string): string {
  return `Leash intercepts only the tunnels whose rules look inside HTTPS (methods, paths, inspect). For those, agents
must trust leash's CA certificate:

  ${cert}

Per process (set in the agent's environment):
  Node.js           NODE_EXTRA_CA_CERTS=${cert}            (adds to Node's built-in roots)
  OpenSSL-based     SSL_CERT_FILE=/etc/leash/ca-bundle.pem  (a bundle: system roots + leash's CA, see below)
  Python requests   REQUESTS_CA_BUNDLE=/etc/leash/ca-bundle.pem
  curl              CURL_CA_BUNDLE=/etc/leash/ca-bundle.pem   (or curl --cacert ${cert} for one call)
  git               GIT_SSL_CAINFO=/etc/leash/ca-bundle.pem

  SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and GIT_SSL_CAINFO replace the default roots, so point them at a
  bundle that also holds the system roots, or tunnels leash does not intercept stop verifying:
    cat /etc/ssl/certs/ca-certificates.crt ${cert} > /etc/leash/ca-bundle.pem

System-wide:
  Debian/Ubuntu     sudo cp ${cert} /usr/local/share/ca-certificates/leash-ca.crt && sudo update-ca-certificates
  macOS             sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${cert}

Containers:
  mount it read-only and point the variables at it, e.g.
    docker run -v ${cert}:/etc/leash/leash-ca.pem:ro -e NODE_EXTRA_CA_CERTS=/etc/leash/leash-ca.pem ...
  or build it into the agent's image with the Debian step above.

Keep the key (${cert.replace(/\.pem$/, '.key')}) on the proxy host only: anyone holding it can impersonate any site to
agents that trust this CA.`;
}
