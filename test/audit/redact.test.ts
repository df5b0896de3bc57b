import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, redactPath, redactRecord, redactFlatRecord, redactSecrets } from '../../src/audit/redact.js';

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
    ['fragment (OAuth implicit flow)', '/cb#access_token=abc&expires_in=3600', `/cb#access_token=${REDACTED}&expires_in=3600`],
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
  const otherKey = fc.string({ minLength: 1 }).filter((k) => !/token|secret|passw|api|signature|credential|session/i.test(k));
  const param = fc.tuple(fc.oneof(tokenKey, otherKey), fc.string());

  it('never lets a value of a token parameter through, as a WHATWG parser reads the output', () => {
    fc.assert(
      fc.property(fc.array(param, { minLength: 1, maxLength: 6 }), fc.boolean(), (params, rawValues) => {
        const query = params
          .map(([key, value]) => `${key.includes('%') ? key : encodeURIComponent(key)}=${rawValues ? value.replace(/[&#]/g, '') : encodeURIComponent(value)}`)
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
      fc.property(fc.array(other, { maxLength: 4 }), tokenKey, secret, fc.array(other, { maxLength: 4 }), (before, key, value, after) => {
        const query = [...before.map((v, i) => `K${i}=${v}`), `${key}=${value}`, ...after.map((v, i) => `L${i}=${v}`)].join('&');
        expect(redactPath(`/P?${query}`)).not.toContain(value);
      }),
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
    ['an Error keeps name and message, not the stack', { error: new TypeError(`bad ${openAiKey}`) }, { error: { name: 'TypeError', message: `bad ${REDACTED}` } }],
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
        const input = deepFreeze({ payload: json, authorization: planted, path: `/x?token=${planted}`, list: [planted] });
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
    { path: '/v1/x?access_token=abc&q=1', message: 'Bearer eyJabc.eyJdef.sig', userAgent: 'ua sk-proj-Abc123def456ghi789jkl012', n: 3, client: { address: '127.0.0.1', port: 1 }, errors: ['x ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'], rule: null },
    { path: null, host: 'user:pw@host', authorization: 'Basic abc', cookie: 'a=b', files: ['a.yaml'] },
  ])('record %#', (record) => {
    expect(redactFlatRecord(record)).toEqual(redactRecord(record));
  });
});
