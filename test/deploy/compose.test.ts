// deploy/compose.yaml: Docker cannot run here, so the file is parsed and its promises checked: the agents are only
// on internal networks, leash is the one service on both the agents' network and one with a route out, Redis is
// reachable from leash alone, and leash is configured through the environment it reads.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

interface Service {
  networks: string[];
  environment?: Record<string, string>;
  read_only?: boolean;
  user?: string;
  image?: string;
  volumes?: string[];
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean }>;
}

const compose = load(
  readFileSync(fileURLToPath(new URL('../../deploy/compose.yaml', import.meta.url)), 'utf8'),
) as Compose;
const internal = (network: string) => compose.networks[network]?.internal === true;

describe('deploy/compose.yaml', () => {
  it('the agent is only on internal networks, and leash is the only service on a network with a route out', () => {
    expect(compose.services.agent!.networks.every(internal)).toBe(true);
    const outward = Object.entries(compose.services).filter(([, s]) => s.networks.some((n) => !internal(n)));
    expect(outward.map(([name]) => name)).toEqual(['leash']);
  });

  it('every network the agent is on is shared with leash and with nothing else but agents', () => {
    for (const network of compose.services.agent!.networks) {
      const members = Object.entries(compose.services).filter(([, s]) => s.networks.includes(network));
      expect(members.map(([name]) => name).sort()).toEqual(['agent', 'leash']);
    }
  });

  it('Redis shares a network with leash only', () => {
    for (const network of compose.services.redis!.networks) {
      expect(internal(network)).toBe(true);
      const members = Object.entries(compose.services).filter(([, s]) => s.networks.includes(network));
      expect(members.map(([name]) => name).sort()).toEqual(['leash', 'redis']);
    }
    expect(compose.services.redis!.image).toBe('redis:7');
  });

  it('leash reads its listen address, store and audit file from the environment, and runs read-only as a non-root user', () => {
    expect(compose.services.leash!.environment).toEqual({
      LEASH_LISTEN: '0.0.0.0:3128',
      LEASH_STORE: 'redis://redis:6379',
      LEASH_AUDIT: '/var/log/leash/audit.log',
    });
    for (const name of ['leash', 'redis']) {
      expect(compose.services[name]!.read_only, name).toBe(true);
      expect(compose.services[name]!.user, name).not.toMatch(/^0(:|$)|^root/);
    }
  });

  it('the agent sends everything through leash and gets only the CA certificate, never its key', () => {
    const agent = compose.services.agent!;
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'])
      expect(agent.environment![name], name).toBe('http://leash:3128');
    expect(agent.environment!.NO_PROXY).toBe('');
    expect((agent.volumes ?? []).join(' ')).not.toMatch(/leash-ca\.key|certs:\/|certs$/);
  });
});
