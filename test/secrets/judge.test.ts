// The misuse judgement as a table: who sends which placeholder, found where, to which host, how → refused with
// secret_misuse naming the secret (never a value), or the secrets whose values may go in.

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/policy/load.js';
import { judgeSecrets, type SecretFacts } from '../../src/secrets/judge.js';
import { isPlaceholderOf, parsePlaceholder, placeholderFor, placeholderKey } from '../../src/secrets/placeholder.js';

const { policy } = compilePolicy([
  {
    file: 'p.yaml',
    text: `version: 1
agents: { research: {}, writer: {} }
secrets:
  openai: { value: env:OPENAI_API_KEY, hosts: [api.openai.com], header: Authorization, format: "Bearer {}" }
  google: { value: env:GOOGLE_KEY, hosts: ["*.api.example.net"], query: key }
rules:
  - { name: openai, domain: api.openai.com, methods: [GET, POST], effect: allow }
  - { name: google, domain: "*.api.example.net", methods: [GET], effect: allow }
  - { name: docs, domain: docs.example.com, effect: allow }
`,
  },
]);
const key = placeholderKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
const view = {
  secrets: policy!.secrets,
  isOwn: (agent: string, p: ReturnType<typeof parsePlaceholder> & object) => isPlaceholderOf(key, agent, p),
};
const ph = (agent: string, secret: string) => parsePlaceholder(placeholderFor(key, agent, secret))!;

interface Row {
  name: string;
  agent?: string;
  placeholder: () => ReturnType<typeof ph>;
  host: string;
  transport?: SecretFacts['transport'];
  ok?: string[];
  misuse?: { secret: string | null; message: RegExp };
}

const ROWS: Row[] = [
  {
    name: 'its own placeholder to its own host',
    placeholder: () => ph('research', 'openai'),
    host: 'api.openai.com',
    ok: ['openai'],
  },
  {
    name: 'a wildcard host of the secret',
    placeholder: () => ph('research', 'google'),
    host: 'maps.api.example.net',
    ok: ['google'],
  },
  {
    name: 'to another allowed host',
    placeholder: () => ph('research', 'openai'),
    host: 'docs.example.com',
    misuse: {
      secret: 'openai',
      message:
        /^the placeholder of secret openai \(in header Authorization\) was on its way to docs\.example\.com, which is not one of its hosts \(api\.openai\.com\)/,
    },
  },
  {
    name: 'to the apex of a wildcard',
    placeholder: () => ph('research', 'google'),
    host: 'api.example.net',
    misuse: { secret: 'google', message: /not one of its hosts \(\*\.api\.example\.net\)/ },
  },
  {
    name: 'another agent’s placeholder',
    placeholder: () => ph('writer', 'openai'),
    host: 'api.openai.com',
    misuse: { secret: 'openai', message: /not agent research's \(another agent's, or forged\)/ },
  },
  {
    name: 'a forged MAC',
    placeholder: () => parsePlaceholder(`leash-ph-openai-${'0'.repeat(32)}`)!,
    host: 'api.openai.com',
    misuse: { secret: 'openai', message: /not agent research's/ },
  },
  {
    name: 'a secret the policy does not have',
    placeholder: () => ph('research', 'stripe'),
    host: 'api.stripe.com',
    misuse: { secret: null, message: /names no secret of this policy/ },
  },
  {
    name: 'plain HTTP to its own host',
    placeholder: () => ph('research', 'openai'),
    host: 'api.openai.com',
    transport: 'http',
    misuse: { secret: 'openai', message: /over plain HTTP/ },
  },
  {
    name: 'in the CONNECT itself',
    placeholder: () => ph('research', 'openai'),
    host: 'api.openai.com',
    transport: 'tunnel',
    misuse: { secret: 'openai', message: /CONNECT request/ },
  },
];

describe('judgeSecrets', () => {
  it.each(ROWS)('$name', ({ agent = 'research', placeholder, host, transport = 'https', ok, misuse }) => {
    const judged = judgeSecrets(view, {
      agent,
      host,
      transport,
      found: [{ placeholder: placeholder(), where: 'header Authorization' }],
    });
    if (ok) expect(judged).toEqual({ ok: true, secrets: ok.map((n) => policy!.secrets.get(n)) });
    else {
      expect(judged.ok).toBe(false);
      if (judged.ok) return;
      expect(judged.secret).toBe(misuse!.secret);
      expect(judged.message).toMatch(misuse!.message);
    }
  });

  it('nothing found, nothing to do', () => {
    expect(judgeSecrets(view, { agent: 'research', host: 'docs.example.com', transport: 'http', found: [] })).toEqual({
      ok: true,
      secrets: [],
    });
  });
});
