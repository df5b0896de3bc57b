import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { looksRandom } from '../../src/audit/entropy.js';
import {
  REDACTED,
  redactPath,
  redactRecord,
  redactFlatRecord,
  redactSecrets,
  redactString,
  type FieldKind,
} from '../../src/audit/redact.js';
import { SECRET_RULES } from '../../src/audit/secret-rules.js';
import { BARE_RANDOM_KEY, findLeak, PLANTED, RULE_SAMPLES } from './secret-samples.js';

const SEED = 20_240_611;

// Fake credentials in the real formats, assembled so no scanner mistakes this file for a leak.
const openAiKey = ['sk', 'abc123DEF456ghi789JKL012mno345PQR678stu901VWX2'].join('-');
const openAiProjectKey = ['sk', 'proj', 'Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z_Ab3dEf6hIj9kLm2'].join('-');
const anthropicKey = ['sk', 'ant', 'api03', 'AbCdEf1234567890_ghIJkl-mnOPqrSTuvWXyz0123456789AAAA'].join('-');
const stripeKey = ['sk', 'live', '51H8xYzAbCdEfGhIjKlMnOpQr'].join('_');
const jwt = [
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9',
  'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ',
  'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
].join('.');
const githubToken = (prefix: string) => `${prefix}_${'16C7e42F292c6912E7710c838347Ae178B4a'}`;
const githubPat = ['github', 'pat', '11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP'].join('_');
const slackToken = ['xoxb', '1234567890', '1234567890123', 'AbCdEfGhIjKlMnOpQrStUvWx'].join('-');
const awsKeyId = ['AKIA', 'IOSFODNN7EXAMPLE'].join('');
const awsSessionKeyId = ['ASIA', 'XYZW1234ABCD5678'].join('');
const googleKey = ['AIza', 'SyA-1234567890abcdefghijklmnopqrstu'].join('');
const basicCredential = Buffer.from('alice:s3cret').toString('base64');

describe('redactSecrets: planted secrets vanish', () => {
  it.each<[name: string, text: string, secret: string]>([
    ['OpenAI key', `key is ${openAiKey}.`, openAiKey],
    ['OpenAI project key', `OPENAI_API_KEY=${openAiProjectKey}`, openAiProjectKey],
    ['Anthropic key', `{"x-api-key":"${anthropicKey}"}`, anthropicKey],
    ['Stripe secret key', `curl -u ${stripeKey}:`, stripeKey],
    ['Bearer token', 'Authorization: Bearer abc.def-123_ghi~', 'abc.def-123_ghi~'],
    ['lower-case bearer', 'authorization: bearer opaque-token-value', 'opaque-token-value'],
    ['Bearer with padding', 'Bearer dG9rZW4=', 'dG9rZW4='],
    ['Basic credentials', `Proxy-Authorization: Basic ${basicCredential}`, basicCredential],
    ['JWT', `session ${jwt} expired`, jwt],
    ['JWT inside Bearer', `Bearer ${jwt}`, jwt],
    ['GitHub personal token', `git clone with ${githubToken('ghp')}`, githubToken('ghp')],
    ['GitHub OAuth token', githubToken('gho'), githubToken('gho')],
    ['GitHub app token', githubToken('ghs'), githubToken('ghs')],
    ['GitHub user-to-server token', githubToken('ghu'), githubToken('ghu')],
    ['GitHub fine-grained PAT', `token=${githubPat}`, githubPat],
    ['Slack token', `slack: ${slackToken}`, slackToken],
    ['AWS access key id', `aws_access_key_id = ${awsKeyId}`, awsKeyId],
    ['AWS session key id', `"AccessKeyId": "${awsSessionKeyId}"`, awsSessionKeyId],
    ['Google API key', `?key=${googleKey}`, googleKey],
    ['URL user and password', 'fetch https://alice:hunter2@example.com/x', 'alice:hunter2'],
    ['URL token as user', 'https://x-token-abc123@github.com/o/r.git', 'x-token-abc123'],
    ['URL password containing @', 'postgres://app:p@ss@db.internal:5432/app', 'app:p@ss'],
  ])('%s', (_name, text, secret) => {
    const out = redactSecrets(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it.each<[name: string, text: string, expected: string]>([
    ['keeps the Bearer scheme word', 'Authorization: Bearer abc123', `Authorization: Bearer ${REDACTED}`],
    ['keeps the Basic scheme word', `Basic ${basicCredential}`, `Basic ${REDACTED}`],
    ['keeps the URL scheme and host', 'https://u:p@example.com/a', `https://${REDACTED}@example.com/a`],
    ['replaces a key and nothing around it', `a ${awsKeyId} b`, `a ${REDACTED} b`],
    ['replaces several secrets in one string', `${openAiKey} and ${githubToken('ghp')}`, `${REDACTED} and ${REDACTED}`],
  ])('%s', (_name, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });
});

const innocent: [name: string, text: string][] = [
  ['API path', '/v1/chat/completions'],
  ['query without secrets', '?q=monkey&page=2'],
  ['task id', 'task-1234'],
  ['word starting with sk', 'skeleton'],
  ['hyphenated search', '/search?q=risk-management'],
  ['slug starting with sk-', '/blog/sk-learn-tutorial-for-beginners'],
  ['key-like query name', '/kb?keyboard=qwerty&monkey=1'],
  ['URL without userinfo', 'https://api.openai.com/v1/models?limit=20'],
  ['e-mail address', 'mailto:someone@example.com'],
  ['prose with Basic', 'Basic usage of the API'],
  ['SHA-256 digest', 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
  ['UUID', '3f1c2b9e-7d4a-4c1e-9b2f-8a6d5e4c3b2a'],
  ['GitHub issues listing', '/repos/anthropics/sdk/issues?state=open&per_page=100'],
  ['CONNECT target', 'api.anthropic.com:443'],
  ['empty string', ''],
];

describe('innocent strings stay byte-identical', () => {
  it.each(innocent)('redactSecrets: %s', (_name, text) => {
    expect(redactSecrets(text)).toBe(text);
  });
  it.each(innocent)('redactPath: %s', (_name, text) => {
    expect(redactPath(text)).toBe(text);
  });
});

describe('redactPath', () => {
  it.each<[name: string, input: string, expected: string]>([
    ['OAuth code', '/cb?code=abc&state=xyz', `/cb?code=${REDACTED}&state=xyz`],
    ['keeps names and order', '/x?a=1&password=p&b=2&pwd=q', `/x?a=1&password=${REDACTED}&b=2&pwd=${REDACTED}`],
    ['key case-insensitive', '/x?API_KEY=abc', `/x?API_KEY=${REDACTED}`],
    ['key percent-encoded', '/x?%74oken=abc', `/x?%74oken=${REDACTED}`],
    ['key with a malformed escape', '/x?%zztoken=abc', `/x?%zztoken=${REDACTED}`],
    ['key containing token', '/x?my_access_token_v2=abc', `/x?my_access_token_v2=${REDACTED}`],
    ['key containing session', '/x?PHPSESSID=abc', `/x?PHPSESSID=${REDACTED}`],
    ['short sensitive key', '/x?sig=abc&sid=def', `/x?sig=${REDACTED}&sid=${REDACTED}`],
    ['empty value', '/x?token=', `/x?token=${REDACTED}`],
    ['key without value', '/x?token&a=1', '/x?token&a=1'],
    ['value containing =', '/x?token=a=b&c=d', `/x?token=${REDACTED}&c=d`],
    ['value continuing after ;', '/x?token=abc;def&b=2', `/x?token=${REDACTED}&b=2`],
    ['key after ;', '/x?a=1;token=abc&b=2', `/x?a=1;token=${REDACTED}&b=2`],
    ['same key twice', '/x?token=a&token=b', `/x?token=${REDACTED}&token=${REDACTED}`],
    [
      'fragment (OAuth implicit flow)',
      '/cb#access_token=abc&expires_in=3600',
      `/cb#access_token=${REDACTED}&expires_in=3600`,
    ],
    ['hash route', '/#/callback?code=abc', `/#/callback?code=${REDACTED}`],
    ['matrix parameter', '/app;jsessionid=ABC123/page?x=1', `/app;jsessionid=${REDACTED}/page?x=1`],
    ['innocent matrix parameter', '/map;lat=1;lng=2', '/map;lat=1;lng=2'],
    [
      'S3 presigned URL',
      `/b/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${awsKeyId}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024&X-Amz-Security-Token=IQoJb3JpZ2luX2Vj`,
      `/b/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${REDACTED}&X-Amz-Signature=${REDACTED}&X-Amz-Security-Token=${REDACTED}`,
    ],
    ['secret pattern in the path', `/v1/keys/${openAiKey}/usage`, `/v1/keys/${REDACTED}/usage`],
    ['secret pattern under an innocent key', `/x?q=${githubToken('ghp')}`, `/x?q=${REDACTED}`],
    ['absolute form with userinfo', 'http://u:p@host/x?token=1&q=2', `http://${REDACTED}@host/x?token=${REDACTED}&q=2`],
  ])('%s', (_name, input, expected) => {
    expect(redactPath(input)).toBe(expected);
  });

  const tokenKey = fc.constantFrom('token', 'TOKEN', 'Token', '%74oken', 'to%6Ben', 'tok%65n');
  const otherKey = fc
    .string({ minLength: 1 })
    .filter((k) => !/token|secret|passw|api|signature|credential|session/i.test(k));
  const param = fc.tuple(fc.oneof(tokenKey, otherKey), fc.string());

  it('never lets a value of a token parameter through, as a WHATWG parser reads the output', () => {
    fc.assert(
      fc.property(fc.array(param, { minLength: 1, maxLength: 6 }), fc.boolean(), (params, rawValues) => {
        const query = params
          .map(
            ([key, value]) =>
              `${key.includes('%') ? key : encodeURIComponent(key)}=${rawValues ? value.replace(/[&#]/g, '') : encodeURIComponent(value)}`,
          )
          .join('&');
        const parsed = new URL(redactPath(`/p?${query}`), 'http://leash.invalid').searchParams;
        for (const [key, value] of parsed) {
          if (key.toLowerCase() === 'token') expect(value).toBe(REDACTED);
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('never lets a token value appear anywhere in the output', () => {
    // Token values and everything else come from disjoint alphabets, so any occurrence is a leak.
    const secret = fc.stringMatching(/^[a-z0-9]{8,24}$/);
    const other = fc.stringMatching(/^[A-Z_.~-]{0,12}$/);
    fc.assert(
      fc.property(
        fc.array(other, { maxLength: 4 }),
        tokenKey,
        secret,
        fc.array(other, { maxLength: 4 }),
        (before, key, value, after) => {
          const query = [
            ...before.map((v, i) => `K${i}=${v}`),
            `${key}=${value}`,
            ...after.map((v, i) => `L${i}=${v}`),
          ].join('&');
          expect(redactPath(`/P?${query}`)).not.toContain(value);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('redactRecord', () => {
  it('redacts every string, the path, and credential headers whole', () => {
    const record = {
      method: 'GET',
      path: '/v1/models?api_key=abc&limit=5',
      url: 'https://u:p@api.example.test/x?sig=1',
      request: {
        headers: {
          Authorization: `Bearer ${jwt}`,
          'Proxy-Authorization': `Basic ${basicCredential}`,
          cookie: 'sid=abc',
          'set-cookie': ['a=1', 'b=2'],
          'X-Api-Key': 'anything-at-all',
          accept: 'application/json',
        },
      },
      notes: [`leaked ${openAiKey}`, 'fine'],
      count: 3,
      ok: true,
      nothing: null,
      absent: undefined,
    };
    expect(redactRecord(record)).toEqual({
      method: 'GET',
      path: `/v1/models?api_key=${REDACTED}&limit=5`,
      url: `https://${REDACTED}@api.example.test/x?sig=${REDACTED}`,
      request: {
        headers: {
          Authorization: REDACTED,
          'Proxy-Authorization': REDACTED,
          cookie: REDACTED,
          'set-cookie': [REDACTED, REDACTED],
          'X-Api-Key': REDACTED,
          accept: 'application/json',
        },
      },
      notes: [`leaked ${REDACTED}`, 'fine'],
      count: 3,
      ok: true,
      nothing: null,
      absent: undefined,
    });
  });

  it.each<[name: string, input: unknown, expected: unknown]>([
    ['a bare string', `x ${awsKeyId}`, `x ${REDACTED}`],
    ['a number', 42, 42],
    [
      'an Error keeps name and message, not the stack',
      { error: new TypeError(`bad ${openAiKey}`) },
      { error: { name: 'TypeError', message: `bad ${REDACTED}` } },
    ],
    ['binary data', { body: Buffer.from('password=x') }, { body: REDACTED }],
    ['a Date', { at: new Date(0) }, { at: new Date(0) }],
    ['a null cookie stays null', { cookie: null }, { cookie: null }],
  ])('%s', (_name, input, expected) => {
    expect(redactRecord(input)).toStrictEqual(expected);
  });

  it('keeps a "__proto__" key as a plain field', () => {
    const out = redactRecord(JSON.parse('{"__proto__": {"polluted": "sk"}}') as Record<string, unknown>);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('copies cycles without recursing forever', () => {
    const record: Record<string, unknown> = { token: 'Bearer abc' };
    record.self = record;
    const out = redactRecord(record);
    expect(out.self).toBe(out);
    expect(out.token).toBe(`Bearer ${REDACTED}`);
  });

  it('never mutates its input (frozen input works too)', () => {
    const deepFreeze = <T>(value: T): T => {
      if (value && typeof value === 'object') Object.values(value).forEach(deepFreeze);
      return Object.freeze(value);
    };
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(openAiKey, jwt, `Bearer ${jwt}`, githubPat), (json, planted) => {
        const input = deepFreeze({
          payload: json,
          authorization: planted,
          path: `/x?token=${planted}`,
          list: [planted],
        });
        const before = structuredClone(input);
        const out = redactRecord(input);
        expect(input).toStrictEqual(before);
        expect(out).not.toBe(input);
        expect(JSON.stringify(out)).not.toContain(planted);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe('cost', () => {
  it.each<[name: string, text: string]>([
    ['long innocent text', 'the quick brown fox '.repeat(50_000)],
    ['long word run', 'a'.repeat(1_000_000)],
    ['sk- then a long run without digits', `sk-${'a'.repeat(1_000_000)}`],
    ['many authorities without @', 'http://host/'.repeat(100_000)],
    ['many scheme separators', `${'://'.repeat(200_000)}@`],
    ['many JWT-ish heads', 'eyJ.'.repeat(200_000)],
    ['many Bearer words', 'Bearer '.repeat(100_000)],
  ])('stays linear on %s', (_name, text) => {
    const started = performance.now();
    redactSecrets(text);
    redactPath(`/p?${text}`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('redactFlatRecord agrees with redactRecord on audit-shaped records', () => {
  it.each([
    {
      path: '/v1/x?access_token=abc&q=1',
      message: 'Bearer eyJabc.eyJdef.sig',
      userAgent: 'ua sk-proj-Abc123def456ghi789jkl012',
      n: 3,
      client: { address: '127.0.0.1', port: 1 },
      errors: ['x ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'],
      rule: null,
    },
    { path: null, host: 'user:pw@host', authorization: 'Basic abc', cookie: 'a=b', files: ['a.yaml'] },
  ])('record %#', (record) => {
    expect(redactFlatRecord(record)).toEqual(redactRecord(record));
  });
});

// ---- the catalogue, the encodings, the parameter names, the entropy check (issue 12)

const encodeAll = (text: string) =>
  [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
const encodeFirst = (text: string) => `${encodeAll(text.slice(0, 1))}${text.slice(1)}`;

/** Every place and encoding a secret can take in one field, as [placement, field kind, the string]. */
function placements(secret: string): [place: string, kind: FieldKind, text: string][] {
  return [
    ['free text', 'text', `the agent said ${secret} twice`],
    ['free text, lower-cased', 'text', `GET ${secret.toLowerCase()}.evil.test:80/ denied`],
    ['User-Agent', 'text', `my-agent/1.0 (+${secret})`],
    ['path segment', 'target', `/v1/${secret}/usage`],
    ['query value under an innocent key', 'target', `/x?q=${secret}&page=2`],
    ['path segment, first character percent-encoded', 'target', `/v1/${encodeFirst(secret)}/x`],
    ['path segment, all percent-encoded', 'target', `/v1/${encodeAll(secret)}`],
    ['path segment, percent-encoded twice', 'target', `/v1/${encodeURIComponent(encodeAll(secret))}`],
    ['query value, +-encoded Bearer', 'target', `/x?h=Bearer+${encodeURIComponent(secret)}`],
    ['path segment, Bearer%20', 'target', `/x/Bearer%20${encodeURIComponent(secret)}`],
    ['fragment', 'target', `/cb#state=${encodeURIComponent(secret)}`],
    ['host label', 'host', `${secret.toLowerCase()}.evil.test`],
  ];
}

describe('the catalogue of credential formats (secret-rules.ts)', () => {
  it('has unique ids, lowercase keywords, and samples for every rule', () => {
    const ids = SECRET_RULES.map((rule) => rule.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(Object.keys(RULE_SAMPLES).sort()).toEqual([...ids].sort());
    for (const rule of SECRET_RULES) for (const keyword of rule.keywords) expect(keyword).toBe(keyword.toLowerCase());
  });

  it.each(
    SECRET_RULES.flatMap((rule) =>
      (RULE_SAMPLES[rule.id] ?? []).map((sample, i) => [`${rule.id} #${i + 1}`, rule, sample] as const),
    ),
  )('%s: its own pattern matches the sample whole, and the sample holds a keyword', (_name, rule, sample) => {
    expect(sample.match(new RegExp(rule.pattern, 'gi'))?.[0]).toBe(sample);
    expect(rule.keywords.some((keyword) => sample.toLowerCase().includes(keyword))).toBe(true);
  });
});

const everySample = Object.entries(RULE_SAMPLES).flatMap(([id, samples]) =>
  samples.map((sample, i) => [`${id} #${i + 1}`, sample] as const),
);

describe('no placement and no encoding lets a known format through', () => {
  // A format of several words (a webhook URL, a PEM block) is recognised by its first word; encoding only that word
  // hides the context, not the secret, whose random words the entropy check then has to find on their own.
  const severalWords = (sample: string) => /[\s/]/.test(sample);
  const cases = everySample.flatMap(([name, sample]) =>
    placements(sample)
      .filter(([place]) => !(severalWords(sample) && place.includes('first character')))
      .map(([place, kind, text]) => [`${name} in ${place}`, kind, text, sample] as const),
  );
  it.each(cases)('%s', (_name, kind, text, sample) => {
    const out = redactString(text, kind);
    expect(findLeak(out, sample)).toBeUndefined();
    expect(out).toContain(REDACTED);
  });

  const kinds = fc.constantFrom<FieldKind>('target', 'text', 'host');
  const planted = PLANTED.map(([, secret]) => secret);

  it('whatever sits around a known key, and in either case, none of it is left (seeded)', () => {
    const single = Object.values(RULE_SAMPLES)
      .flat()
      .filter((sample) => !/[\s/]/.test(sample));
    const glue = fc.constantFrom(
      '',
      '/',
      '_',
      '-',
      '=',
      ' ',
      '%20',
      '+',
      '.',
      ':',
      '?q=',
      '#',
      ';a=',
      '"',
      '(',
      '%2F',
      '&',
      ',',
      '%22',
    );
    fc.assert(
      fc.property(fc.constantFrom(...single), glue, glue, kinds, fc.boolean(), (secret, before, after, kind, lower) => {
        const out = redactString(`/p/${before}${lower ? secret.toLowerCase() : secret}${after}/q`, kind);
        expect(findLeak(out, secret), out).toBeUndefined();
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('letters glued before or after a planted key do not hide it (seeded)', () => {
    const glue = fc.constantFrom('', 'x', 'abc', 'Z9', '_', '-');
    fc.assert(
      fc.property(
        fc.constantFrom(...planted),
        glue,
        glue,
        kinds,
        fc.boolean(),
        (secret, before, after, kind, lower) => {
          const out = redactString(`/p/${before}${lower ? secret.toLowerCase() : secret}${after}/q`, kind);
          expect(findLeak(out, secret), out).toBeUndefined();
        },
      ),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it.each(placements(BARE_RANDOM_KEY).filter(([, kind]) => kind !== 'host'))(
    'a bare random key in %s',
    (_place, kind, text) => {
      expect(findLeak(redactString(text, kind), BARE_RANDOM_KEY)).toBeUndefined();
    },
  );
});

describe('the shapes of issue 12, exactly', () => {
  const ids = [
    'groq-api-key',
    'xai-api-key',
    'perplexity-api-key',
    'fireworks-api-key',
    'huggingface-access-token',
    'gitlab-pat',
    'npm-access-token',
    'replicate-api-token',
  ];
  const [groq, xai, pplx, fw, hf, glpat, npm, r8] = ids.map((id) => RULE_SAMPLES[id]![0]!);
  const projectKey = RULE_SAMPLES['openai-api-key']![0]!;
  const telegram = RULE_SAMPLES['telegram-bot-api-token']![0]!;
  it.each<[name: string, kind: FieldKind, input: string, expected: string]>([
    ['gsk_ in a path', 'target', `/openai/v1/keys/${groq}`, `/openai/v1/keys/${REDACTED}`],
    ['xai- in a path', 'target', `/v1/${xai}/models`, `/v1/${REDACTED}/models`],
    ['pplx- in a path', 'target', `/k/${pplx}`, `/k/${REDACTED}`],
    ['fw_ in a path', 'target', `/k/${fw}`, `/k/${REDACTED}`],
    ['hf_ in a path', 'target', `/api/models?x=1&t=${hf}`, `/api/models?x=1&t=${REDACTED}`],
    ['glpat- in a path', 'target', `/api/v4/${glpat}/projects`, `/api/v4/${REDACTED}/projects`],
    ['npm_ in a path', 'target', `/-/npm/v1/tokens/${npm}`, `/-/npm/v1/tokens/${REDACTED}`],
    ['r8_ in a path', 'target', `/v1/predictions/${r8}`, `/v1/predictions/${REDACTED}`],
    ['the value of ?pass=', 'target', '/login?user=alice&pass=hunter2', `/login?user=alice&pass=${REDACTED}`],
    ['Bearer%20sk- in a path', 'target', `/x/Bearer%20${projectKey}/y`, `/x/${REDACTED}/y`],
    ['a secret as a host label', 'host', `${projectKey.toLowerCase()}.attacker.test`, `${REDACTED}.attacker.test`],
    ['a secret inside the User-Agent', 'text', `agent/1.0 (key ${groq})`, `agent/1.0 (key ${REDACTED})`],
    ['%73k-proj- stored encoded in the path', 'target', `/v1/%73${projectKey.slice(1)}/x`, `/v1/${REDACTED}/x`],
    [
      'the same key decoded in the message',
      'text',
      `GET api.test:80/v1/${projectKey}/x denied: no rule allows it`,
      `GET api.test:80/v1/${REDACTED}/x denied: no rule allows it`,
    ],
    [
      'a key cut short by an earlier message (…)',
      'text',
      `"${'a'.repeat(60)}${groq!.slice(0, 12)}..." is not a valid host name`,
      `"${REDACTED}" is not a valid host name`,
    ],
    [
      'a key cut short with an ellipsis',
      'text',
      `label ${xai!.slice(0, 10)}… is too long`,
      `label ${REDACTED} is too long`,
    ],
    ['letters glued in front of a distinctive prefix', 'target', `/k/abc${groq}`, `/k/abc${REDACTED}`],
    [
      'a Telegram Bot API path',
      'target',
      `/bot${telegram}/sendMessage?chat_id=42`,
      `/bot${REDACTED}/sendMessage?chat_id=42`,
    ],
  ])('%s', (_name, kind, input, expected) => {
    expect(redactString(input, kind)).toBe(expected);
  });
});

describe('credential-named parameters', () => {
  it.each<[key: string, redacted: boolean]>([
    ['pass', true],
    ['password', true],
    ['passwd', true],
    ['Passphrase', true],
    ['secret', true],
    ['client_secret', true],
    ['token', true],
    ['access_token', true],
    ['X-Upload-Token', true],
    ['csrftoken', true],
    ['key', true],
    ['api_key', true],
    ['apiKey', true],
    ['AccountKey', true],
    ['x-api-key', true],
    ['private_key', true],
    ['accesskey', true],
    ['sig', true],
    ['signature', true],
    ['auth', true],
    ['auth_code', true],
    ['authToken', true],
    ['authorization', true],
    ['pwd', true],
    ['credentials', true],
    ['PHPSESSID', true],
    ['%70ass', true],
    ['monkey', false],
    ['keyboard', false],
    ['keys', false],
    ['turkey', false],
    ['author', false],
    ['authors', false],
    ['passenger', false],
    ['page', false],
    ['q', false],
    ['sort', false],
    ['state', false],
  ])('%s → redacted: %s', (key, redacted) => {
    expect(redactPath(`/x?${key}=opaque-value&n=1`)).toBe(
      redacted ? `/x?${key}=${REDACTED}&n=1` : `/x?${key}=opaque-value&n=1`,
    );
  });
});

describe('the entropy check', () => {
  it.each<[name: string, kind: FieldKind, text: string]>([
    ['a REST path with a UUID', 'target', '/users/3f1c2b9e-7d4a-4c1e-9b2f-8a6d5e4c3b2a/orders'],
    ['a git commit SHA', 'target', '/repos/anthropics/sdk/commits/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b'],
    ['a content-hashed asset (hex)', 'target', '/static/app.3f9a8c1b2d4e.js'],
    ['a content-hashed asset (base64url, short)', 'target', '/assets/index-BxK3a9Zq.js'],
    ['a sha256- path', 'target', '/sha256-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08.js'],
    [
      'a registry blob digest',
      'target',
      '/v2/library/ubuntu/blobs/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
    ],
    ['an SRI integrity value', 'target', '/pkg.tgz?integrity=sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg'],
    ['a camelCase name with digits', 'target', '/api/v2/getUserAccountSettingsForTenant42'],
    ['a model name with a date', 'target', '/v1/models/claude-3-5-sonnet-20241022'],
    ['a release artefact', 'target', '/releases/download/v1.2.3/leash-linux-x86_64.tar.gz'],
    ['a long wiki title', 'target', '/wiki/Internationalization_and_localization'],
    ['a word that holds asia', 'target', '/regions/southeastasia2024summerdeals'],
    ['a kebab-case slug with a date', 'target', '/blog/2024-01-15-kubernetes-1-29-release-announcement'],
    ['a YouTube id', 'target', '/watch?v=dQw4w9WgXcQ&t=42s'],
    ['a search with +', 'target', '/search?q=how+to+configure+nginx+reverse+proxy&page=2'],
    ['percent-encoded non-ASCII', 'target', '/%E4%B8%AD%E6%96%87/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82'],
    ['a Python wheel', 'target', '/packages/python-dateutil-2.8.2-py2.py3-none-any.whl'],
    ['a CDN host', 'host', 'd111111abcdef8.cloudfront.net'],
    ['an S3 host', 'host', 'my-bucket-2024.s3.us-east-1.amazonaws.com'],
    ['an Azure storage host', 'host', 'storageaccount2024prod.blob.core.windows.net'],
    ['an IDN host', 'host', 'xn--bcher-kva.example'],
    [
      'a browser User-Agent',
      'text',
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
    ],
    ['an SDK User-Agent', 'text', 'anthropic-sdk-typescript/0.24.3 linux/x64 node/20.11.1'],
  ])('keeps %s readable', (_name, kind, text) => {
    expect(redactString(text, kind)).toBe(text);
  });

  it.each<[name: string, kind: FieldKind, text: string, expected: string]>([
    ['a random path segment', 'target', `/files/${BARE_RANDOM_KEY}/raw`, `/files/${REDACTED}/raw`],
    ['a random query value', 'target', `/x?cursor=${BARE_RANDOM_KEY}`, `/x?cursor=${REDACTED}`],
    [
      'a base64 query value with / and +',
      'target',
      '/x?q=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+a1',
      `/x?q=${REDACTED}`,
    ],
    [
      'a random host label (lower case)',
      'host',
      `${BARE_RANDOM_KEY.toLowerCase()}.exfil.test`,
      `${REDACTED}.exfil.test`,
    ],
    ['a random word in a User-Agent', 'text', `agent/1.0 ${BARE_RANDOM_KEY}`, `agent/1.0 ${REDACTED}`],
    [
      'base64 of anything (cannot tell text from a key)',
      'text',
      'dGhpcyBpcyBqdXN0IHNvbWUgbG9uZyBiYXNlNjQgdGV4dA',
      REDACTED,
    ],
    [
      'known false positive: an IPFS CID (base32, looks random)',
      'target',
      '/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi',
      `/ipfs/${REDACTED}`,
    ],
  ])('redacts %s', (_name, kind, text, expected) => {
    expect(redactString(text, kind)).toBe(expected);
  });

  it('catches most random keys of 24 characters and more, and leaves none of its own redactions partial', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const key = fc.array(fc.constantFrom(...alphabet), { minLength: 24, maxLength: 64 }).map((c) => c.join(''));
    let caught = 0;
    fc.assert(
      fc.property(key, (k) => {
        if (looksRandom(k)) caught++;
      }),
      { seed: SEED, numRuns: 1000 },
    );
    expect(caught).toBeGreaterThan(900);
  });
});

describe('cost: every rule stays linear on 1 MB of adversarial input', () => {
  const MB = 1 << 20;
  const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length));
  it.each(SECRET_RULES.map((rule) => [rule.id, rule] as const))('%s', (_id, rule) => {
    const pattern = new RegExp(rule.pattern, 'gi');
    const started = performance.now();
    for (const keyword of rule.keywords.slice(0, 3)) {
      for (const input of [
        fill(keyword),
        fill(`${keyword}a`),
        `${keyword}${fill('a')}`,
        fill(`${keyword}1-`),
        fill(`1${keyword}.`),
      ]) {
        input.replace(pattern, REDACTED);
      }
    }
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it.each<[name: string, text: string]>([
    ['random-looking words', fill(`${BARE_RANDOM_KEY} `)],
    ['percent escapes', fill('%41')],
    ['encoded words', fill('%73k-a%2B ')],
    ['plus signs', fill('a+')],
    ['dotted parts', fill('a1B2.')],
    ['query pieces', fill('&token=a')],
  ])('the whole pipeline on %s', (_name, text) => {
    const started = performance.now();
    for (const kind of ['target', 'host', 'text'] as const) redactString(text, kind);
    expect(performance.now() - started).toBeLessThan(10_000); // linear is ~1 s here; quadratic would be minutes
  });
});

describe('every string field of a record, nested too', () => {
  it('leaves no planted secret in any field', () => {
    for (const [, secret] of PLANTED) {
      const record = {
        host: `${secret.toLowerCase()}.evil.test`,
        path: `/v1/${encodeFirst(secret)}?pass=${secret}`,
        userAgent: `ua ${secret}`,
        message: `GET x:80/v1/${secret} denied`,
        sni: secret.toLowerCase(),
        grant: {
          source: `req ${secret}`,
          sourceRule: 'r',
          sourceUrl: `https://docs.test/${encodeAll(secret)}`,
          found: `${secret.toLowerCase()}.cdn.test`,
          expiresAt: 't',
        },
        errors: [`bad ${secret}`],
        client: { address: '127.0.0.1', port: 1 },
      };
      expect(findLeak(JSON.stringify(redactFlatRecord(record)), secret), secret).toBeUndefined();
    }
  });
});
