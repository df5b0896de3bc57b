// Fake credentials in the real formats, one or more per rule of the catalogue (src/audit/secret-rules.ts) plus the
// shapes the catalogue does not name (Bearer, Basic, URL userinfo, a bare random key). Assembled from pieces so no
// scanner mistakes this file for a leak; none of them was ever issued.

const j = (...parts: string[]) => parts.join('');
// Deterministic "random" bodies: mixed case and digits, as issuers' keys are.
const body = (n: number, seed = 7): string => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let x = seed;
  let out = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += alphabet[Math.floor(x / 65536) % alphabet.length];
  }
  return out;
};
const hex = (n: number, seed = 3): string => {
  let x = seed;
  let out = '';
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += (Math.floor(x / 65536) % 16).toString(16);
  }
  return out;
};
const upper = (n: number, seed = 5) =>
  body(n * 3, seed)
    .replace(/[a-z]/g, '')
    .slice(0, n)
    .toUpperCase()
    .padEnd(n, '7');

/** Rule id → samples that rule must recognise. */
export const RULE_SAMPLES: Readonly<Record<string, readonly string[]>> = {
  'openai-api-key': [
    j('sk-', 'proj-', body(48, 1), '_', body(20, 2)),
    j('sk-', body(48, 3)),
    j('sk-', 'ant-', 'api03-', body(80, 4), 'AA'),
    j('sk-', 'svcacct-', body(40, 5)),
  ],
  'anthropic-api-key': [
    j('sk-', 'ant-', 'api03-', body(93, 4), 'AA'),
    j('sk-', 'ant-', 'admin01-', body(93, 70), 'AA'),
  ],
  'groq-api-key': [j('gsk', '_', body(52, 6))],
  'xai-api-key': [j('xai', '-', body(80, 7))],
  'perplexity-api-key': [j('pplx', '-', body(48, 8))],
  'fireworks-api-key': [j('fw', '_', body(24, 9))],
  'huggingface-access-token': [j('hf', '_', body(34, 10))],
  'huggingface-organization-api-token': [j('api_org', '_', body(34, 11))],
  'replicate-api-token': [j('r8', '_', body(37, 12))],
  'github-pat': ['ghp', 'gho', 'ghu', 'ghs', 'ghr'].map((p, i) => j(p, '_', body(36, 13 + i))),
  'github-fine-grained-pat': [j('github', '_pat_', '11ABCDEFG0', body(12, 19), '_', body(59, 20))],
  'gitlab-pat': [j('glpat', '-', body(20, 21)), j('glrt', '-', body(20, 22)), j('gldt', '-', body(20, 23))],
  'npm-access-token': [j('npm', '_', body(36, 24))],
  'dockerhub-pat': [j('dckr', '_pat_', body(27, 25))],
  'atlassian-api-token': [j('ATATT3', 'xFfGF0', body(180, 26))],
  'postman-api-token': [j('PMAK', '-', hex(24, 27), '-', hex(34, 28))],
  'linear-api-key': [j('lin', '_api_', body(40, 29))],
  'notion-api-token': [j('ntn', '_', body(46, 30)), j('secret', '_', body(43, 31))],
  'figma-pat': [j('figd', '_', body(40, 32))],
  'sentry-access-token': [j('sntryu', '_', hex(64, 33))],
  'slack-token': [
    j('xoxb', '-', '1234567890', '-', '1234567890123', '-', body(24, 34)),
    j('xapp', '-1-', 'A0123BCDE', '-', '1234567890', '-', hex(64, 35)),
  ],
  'slack-webhook-url': [j('hooks.slack.com', '/services/', 'T0000AAAA/B0000BBBB/', body(24, 36))],
  'telegram-bot-api-token': [j('123456789', ':', 'AAH', body(32, 37))],
  'stripe-access-token': [j('sk', '_live_', body(99, 38)), j('rk', '_test_', body(24, 39))],
  'stripe-webhook-secret': [j('whsec', '_', body(32, 40))],
  'sendgrid-api-token': [j('SG', '.', body(22, 41), '.', body(43, 42))],
  'mailgun-private-api-token': [j('key', '-', hex(32, 43))],
  'shopify-access-token': [j('shpat', '_', hex(32, 44))],
  'aws-access-token': [j('AKIA', upper(16, 45)), j('ASIA', upper(16, 46))],
  'gcp-api-key': [j('AIza', 'Sy', body(33, 47))],
  'google-oauth-access-token': [j('ya29', '.', body(120, 48))],
  'gcp-oauth-client-secret': [j('GOCSPX', '-', body(28, 49))],
  'digitalocean-token': [j('dop', '_v1_', hex(64, 50))],
  'databricks-api-token': [j('dapi', hex(32, 51))],
  'pulumi-api-token': [j('pul', '-', hex(40, 52))],
  'doppler-api-token': [j('dp', '.pt.', body(43, 53))],
  'vault-service-token': [j('hvs', '.', body(90, 54))],
  'hashicorp-tf-api-token': [j(body(14, 55).toLowerCase(), '.atlasv1.', body(70, 56))],
  'tailscale-key': [j('tskey', '-auth-', body(12, 57), '-', body(32, 58))],
  'grafana-cloud-api-token': [j('glc', '_', body(60, 59), '==')],
  'grafana-service-account-token': [j('glsa', '_', body(32, 60), '_', hex(8, 61))],
  'new-relic-user-api-key': [j('NRAK', '-', upper(27, 62))],
  'supabase-key': [j('sbp', '_', hex(40, 63))],
  '1password-service-account-token': [j('ops', '_eyJ', body(60, 64))],
  'age-secret-key': [j('AGE-SECRET-KEY-1', upper(58, 65))],
  jwt: [
    j(
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9',
      '.',
      'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ',
      '.',
      'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    ),
  ],
  'private-key': [
    j('-----BEGIN ', 'RSA PRIVATE KEY-----\n', body(64, 66), '\n', body(64, 67), '\n-----END RSA PRIVATE KEY-----'),
  ],
};

/** A key with no known prefix: the entropy check has to find it. */
export const BARE_RANDOM_KEY = body(40, 99);

/** The secrets of issue 12 and the realistic keys redaction already knew, named, for planting. */
export const PLANTED: readonly (readonly [name: string, secret: string])[] = [
  ['OpenAI project key', RULE_SAMPLES['openai-api-key']![0]!],
  ['Anthropic key', RULE_SAMPLES['anthropic-api-key']![0]!],
  ['Groq key', RULE_SAMPLES['groq-api-key']![0]!],
  ['xAI key', RULE_SAMPLES['xai-api-key']![0]!],
  ['Perplexity key', RULE_SAMPLES['perplexity-api-key']![0]!],
  ['Fireworks key', RULE_SAMPLES['fireworks-api-key']![0]!],
  ['Hugging Face token', RULE_SAMPLES['huggingface-access-token']![0]!],
  ['GitLab token', RULE_SAMPLES['gitlab-pat']![0]!],
  ['npm token', RULE_SAMPLES['npm-access-token']![0]!],
  ['Replicate token', RULE_SAMPLES['replicate-api-token']![0]!],
  ['GitHub token', RULE_SAMPLES['github-pat']![0]!],
  ['AWS key id', RULE_SAMPLES['aws-access-token']![0]!],
  ['Google API key', RULE_SAMPLES['gcp-api-key']![0]!],
  ['JWT', RULE_SAMPLES.jwt![0]!],
  ['Stripe key', RULE_SAMPLES['stripe-access-token']![0]!],
  ['Slack token', RULE_SAMPLES['slack-token']![0]!],
  ['Telegram bot token', RULE_SAMPLES['telegram-bot-api-token']![0]!],
  ['bare random key', BARE_RANDOM_KEY],
];

/**
 * Where `secret` (or a 16-character stretch of it) still shows in `text`: as is, lower-cased, percent-decoded
 * (repeatedly, `+` as space or not). Undefined when nowhere. A stretch, so a half-redacted key counts as a leak.
 */
export function findLeak(text: string, secret: string): string | undefined {
  const forms = new Set<string>([text]);
  for (const plus of [false, true]) {
    let t = text;
    for (let i = 0; i < 4; i++) {
      const next = decodeLoose(plus ? t.replace(/\+/g, ' ') : t);
      if (next === t) break;
      forms.add((t = next));
    }
  }
  const haystacks = [...forms].map((f) => f.toLowerCase());
  const needle = secret.toLowerCase();
  const windows =
    needle.length <= 16 ? [needle] : Array.from({ length: needle.length - 15 }, (_, i) => needle.slice(i, i + 16));
  for (const w of windows) {
    // A stretch made only of a common prefix or of repeated filler proves nothing.
    if (/^[a-z]+[-_]?$/.test(w) || new Set(w).size < 6) continue;
    const found = haystacks.find((h) => h.includes(w));
    if (found !== undefined)
      return `"${w}" in ${JSON.stringify(found.slice(Math.max(0, found.indexOf(w) - 40), found.indexOf(w) + 56))}`;
  }
  return undefined;
}

function decodeLoose(text: string): string {
  return text.replace(/%([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}
