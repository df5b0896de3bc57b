// The catalogue of credential formats that redaction (redact.ts) recognises by shape: DATA only, one named rule per
// issuer's format, so adding a provider is adding a row, and the engine that applies them stays the same.
//
// Source and licence: the catalogue is modelled on the gitleaks default configuration (github.com/gitleaks/gitleaks,
// config/gitleaks.toml, MIT licence, Copyright (c) 2019 Zachary Rice): its naming of rules (a row takes gitleaks'
// id for the same format where gitleaks has one; some rows are broader, e.g. openai-api-key takes any sk- key with
// a digit), its provider list and its per-rule keyword prefilter. The secretlint recommended preset (MIT) was the
// cross-check for which providers matter. The patterns are written for this engine, not copied: gitleaks' patterns
// are RE2 (linear by construction) and most of them anchor on the surrounding assignment (`api_key = "…"`), which a
// URL path or a User-Agent does not have; JavaScript's backtracking engine needs every pattern linear by its shape.
//
// Rules for every row (checked by test/audit/redact.test.ts, including a 1 MB adversarial input per rule):
// - `keywords` are lowercase literals, one of which every match contains; a rule runs only on strings holding one.
// - Every match contains a run of at least 19 characters of [A-Za-z0-9_-], which is what the precheck (one regex
//   test per string) looks for, unless the rule says `short: true`; then its keywords join the precheck.
// - `pattern` is matched with flags `gi` (case-insensitive: host names are lowercased before they are logged, and
//   a message repeats the host) and must be linear on long input: it starts with a literal or behind a one-
//   character lookbehind, its repeated classes are bounded, or greedy and either end the pattern or are followed
//   by a literal that the class cannot contain (so an attempt never backtracks through a long run), and a
//   quantified group starts with such a literal.
// - `requireDigit`: a match without a digit is left alone (keeps slugs like `sk-learn-tutorial` readable);
//   `minDots`: likewise a match with fewer dots. Such checks let a pattern be a greedy run that cannot fail
//   half-way, where a stricter pattern would rescan the same run from every start inside it.
// Every match is replaced whole by [REDACTED].

export interface SecretRule {
  /** Named after gitleaks' id for the same format where it has one, so findings can be compared. */
  readonly id: string;
  readonly description: string;
  readonly keywords: readonly string[];
  readonly pattern: string;
  readonly requireDigit?: boolean;
  /** A match with fewer dots is left alone (a JWT has two or four). */
  readonly minDots?: number;
  /** A match may lack a 19-character word run (its parts are split by `.`, `/` or spaces): precheck its keywords. */
  readonly short?: boolean;
}

// `(?<![A-Za-z0-9])`, for short or word-like prefixes only: such a key starts a word, so `risk-…` or `task-…` never
// look like `sk-…` (`_` and `-` may precede). Distinctive prefixes (`gsk_`, `glpat-`, `sk-proj-`, `AKIA`) match
// wherever they are, so letters glued in front cannot hide a key.
const START = '(?<![A-Za-z0-9])';

export const SECRET_RULES: readonly SecretRule[] = Object.freeze([
  // ---- AI providers (the credentials agents carry most)
  {
    id: 'anthropic-api-key',
    description: 'Anthropic API and admin keys',
    keywords: ['sk-ant-'],
    pattern: 'sk-ant-(?:api|admin)\\d\\d-[\\w-]{20,}',
  },
  {
    id: 'openai-api-key',
    description: 'OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-), OpenRouter (sk-or-) and other sk- keys',
    keywords: ['sk-'],
    pattern: `(?:${START}sk-|sk-(?:proj|ant|svcacct|admin|or-v1)-)[\\w-]{16,}`,
    requireDigit: true,
  },
  {
    id: 'groq-api-key',
    description: 'Groq API key',
    keywords: ['gsk_'],
    pattern: `gsk_[a-z0-9]{20,}`,
  },
  {
    id: 'xai-api-key',
    description: 'xAI (Grok) API key',
    keywords: ['xai-'],
    pattern: `xai-[a-z0-9]{20,}`,
  },
  {
    id: 'perplexity-api-key',
    description: 'Perplexity API key',
    keywords: ['pplx-'],
    pattern: `pplx-[a-z0-9]{20,}`,
  },
  {
    id: 'fireworks-api-key',
    description: 'Fireworks AI API key',
    keywords: ['fw_'],
    pattern: `fw_[a-z0-9]{20,}`,
  },
  {
    id: 'huggingface-access-token',
    description: 'Hugging Face user access token',
    keywords: ['hf_'],
    pattern: `hf_[a-z0-9]{20,}`,
  },
  {
    id: 'huggingface-organization-api-token',
    description: 'Hugging Face organisation token',
    keywords: ['api_org_'],
    pattern: `api_org_[a-z0-9]{20,}`,
  },
  {
    id: 'replicate-api-token',
    description: 'Replicate API token',
    keywords: ['r8_'],
    pattern: `r8_[a-z0-9]{20,}`,
  },
  // ---- code hosting and package registries
  {
    id: 'github-pat',
    description: 'GitHub personal, OAuth, user-to-server, server-to-server and refresh tokens',
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
    pattern: `gh[pousr]_[a-z0-9]{20,}`,
  },
  {
    id: 'github-fine-grained-pat',
    description: 'GitHub fine-grained personal access token',
    keywords: ['github_pat_'],
    pattern: `github_pat_\\w{20,}`,
  },
  {
    id: 'gitlab-pat',
    description: 'GitLab personal, project, deploy, runner, feed, incoming-mail, OAuth, CI job and agent tokens',
    keywords: [
      'glpat-',
      'glptt-',
      'gldt-',
      'glrt-',
      'glft-',
      'glimt-',
      'gloas-',
      'glcbt-',
      'glsoat-',
      'glagent-',
      'glffct-',
    ],
    pattern: `gl(?:pat|ptt|dt|rt|ft|imt|oas|cbt|soat|agent|ffct)-[\\w-]{20,}`,
  },
  {
    id: 'npm-access-token',
    description: 'npm access token',
    keywords: ['npm_'],
    pattern: `npm_[a-z0-9]{30,}`,
  },
  {
    id: 'dockerhub-pat',
    description: 'Docker Hub personal access token',
    keywords: ['dckr_pat_'],
    pattern: `dckr_pat_[\\w-]{20,}`,
  },
  {
    id: 'atlassian-api-token',
    description: 'Atlassian API token',
    keywords: ['atatt3'],
    pattern: `ATATT3[\\w=-]{50,}`,
  },
  {
    id: 'postman-api-token',
    description: 'Postman API key',
    keywords: ['pmak-'],
    pattern: `PMAK-[a-f0-9]{24}-[a-f0-9]{34}`,
  },
  {
    id: 'linear-api-key',
    description: 'Linear API key',
    keywords: ['lin_api_'],
    pattern: `lin_api_[a-z0-9]{32,}`,
  },
  {
    id: 'notion-api-token',
    description: 'Notion integration token',
    keywords: ['ntn_', 'secret_'],
    pattern: `${START}(?:ntn|secret)_[a-z0-9]{40,}`,
  },
  {
    id: 'figma-pat',
    description: 'Figma personal access token',
    keywords: ['figd_'],
    pattern: `figd_[\\w-]{30,}`,
  },
  {
    id: 'sentry-access-token',
    description: 'Sentry organisation and user tokens',
    keywords: ['sntrys_', 'sntryu_'],
    pattern: `sntry[su]_[\\w+/=-]{30,}`,
  },
  // ---- chat, payments, mail
  {
    id: 'slack-token',
    description: 'Slack bot, user, app-level, config and refresh tokens',
    keywords: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxo-', 'xoxs-', 'xoxr-', 'xoxe-', 'xapp-'],
    pattern: `(?:xox[abposre]|xapp)-[a-z0-9-]{10,}`,
  },
  {
    id: 'slack-webhook-url',
    description: 'Slack incoming webhook',
    keywords: ['hooks.slack.com'],
    pattern: 'hooks\\.slack\\.com/(?:services|workflows|triggers)/[\\w+/-]{20,}',
    short: true,
  },
  {
    id: 'telegram-bot-api-token',
    description: 'Telegram Bot API token (also in /bot<token>/ paths)',
    keywords: [':a'],
    pattern: '(?<!\\d)\\d{5,16}:A[\\w-]{30,}',
  },
  {
    id: 'stripe-access-token',
    description: 'Stripe secret and restricted keys',
    keywords: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'],
    pattern: `[rs]k_(?:live|test)_[a-z0-9]{16,}`,
  },
  {
    id: 'stripe-webhook-secret',
    description: 'Stripe webhook signing secret',
    keywords: ['whsec_'],
    pattern: `whsec_[a-z0-9]{24,}`,
  },
  {
    id: 'sendgrid-api-token',
    description: 'SendGrid API key',
    keywords: ['sg.'],
    pattern: `${START}SG\\.[\\w-]{16,}\\.[\\w-]{16,}`,
    short: true,
  },
  {
    id: 'mailgun-private-api-token',
    description: 'Mailgun private API key',
    keywords: ['key-'],
    pattern: `${START}key-[a-f0-9]{32}`,
  },
  {
    id: 'shopify-access-token',
    description: 'Shopify access, custom-app, private-app and shared-secret tokens',
    keywords: ['shpat_', 'shpca_', 'shppa_', 'shpss_'],
    pattern: `shp(?:at|ca|pa|ss)_[a-f0-9]{32}`,
  },
  // ---- clouds and infrastructure
  {
    id: 'aws-access-token',
    description: 'AWS access key id',
    keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
    pattern: `(?:A3T[A-Z0-9]|AKIA|${START}(?:ASIA|ABIA|ACCA))[A-Z0-9]{16,}`,
  },
  {
    id: 'gcp-api-key',
    description: 'Google API key',
    keywords: ['aiza'],
    pattern: `AIza[\\w-]{35,}`,
  },
  {
    id: 'google-oauth-access-token',
    description: 'Google OAuth access token',
    keywords: ['ya29.'],
    pattern: `ya29\\.[\\w-]{20,}`,
  },
  {
    id: 'gcp-oauth-client-secret',
    description: 'Google OAuth client secret',
    keywords: ['gocspx-'],
    pattern: `GOCSPX-[\\w-]{20,}`,
  },
  {
    id: 'digitalocean-token',
    description: 'DigitalOcean personal, OAuth and refresh tokens',
    keywords: ['dop_v1_', 'doo_v1_', 'dor_v1_'],
    pattern: `do[opr]_v1_[a-f0-9]{64}`,
  },
  {
    id: 'databricks-api-token',
    description: 'Databricks token',
    keywords: ['dapi'],
    pattern: `${START}dapi[a-f0-9]{32}`,
  },
  {
    id: 'pulumi-api-token',
    description: 'Pulumi access token',
    keywords: ['pul-'],
    pattern: `${START}pul-[a-f0-9]{40}`,
  },
  {
    id: 'doppler-api-token',
    description: 'Doppler tokens',
    keywords: ['dp.pt.', 'dp.st.', 'dp.sa.', 'dp.ct.', 'dp.scim.', 'dp.audit.'],
    pattern: `dp\\.(?:pt|st|sa|ct|scim|audit)\\.[a-z0-9]{40,}`,
  },
  {
    id: 'vault-service-token',
    description: 'HashiCorp Vault service and batch tokens',
    keywords: ['hvs.', 'hvb.'],
    pattern: `hv[sb]\\.[\\w-]{24,}`,
  },
  {
    id: 'hashicorp-tf-api-token',
    description: 'Terraform Cloud / Enterprise API token',
    keywords: ['.atlasv1.'],
    pattern: `${START}[a-z0-9]{14}\\.atlasv1\\.[\\w-]{60,}`,
  },
  {
    id: 'tailscale-key',
    description: 'Tailscale auth and API keys',
    keywords: ['tskey-'],
    pattern: `tskey-[\\w-]{20,}`,
  },
  {
    id: 'grafana-cloud-api-token',
    description: 'Grafana Cloud token',
    keywords: ['glc_'],
    pattern: `glc_[a-z0-9+/]{30,}={0,2}`,
  },
  {
    id: 'grafana-service-account-token',
    description: 'Grafana service account token',
    keywords: ['glsa_'],
    pattern: `glsa_[a-z0-9]{32}_[a-f0-9]{8}`,
  },
  {
    id: 'new-relic-user-api-key',
    description: 'New Relic user API key',
    keywords: ['nrak-'],
    pattern: `NRAK-[a-z0-9]{27}`,
  },
  {
    id: 'supabase-key',
    description: 'Supabase personal access token and secret key',
    keywords: ['sbp_', 'sb_secret_'],
    pattern: `(?:sbp_[a-f0-9]{40}|sb_secret_[\\w-]{20,})`,
  },
  {
    id: '1password-service-account-token',
    description: '1Password service account token',
    keywords: ['ops_ey'],
    pattern: `ops_eyJ[\\w-]{40,}`,
  },
  {
    id: 'age-secret-key',
    description: 'age encryption secret key',
    keywords: ['age-secret-key-1'],
    pattern: `AGE-SECRET-KEY-1[0-9A-Z]{50,}`,
  },
  // ---- generic structures
  {
    id: 'jwt',
    description: 'JWS and JWE compact forms: a base64url JSON header ("eyJ" is \'{"\') and two or four more segments',
    keywords: ['eyj'],
    pattern: 'eyJ[\\w-]*(?:\\.[\\w-]*)*',
    minDots: 2,
  },
  {
    id: 'private-key',
    description: 'PEM private key block (everything after the header goes)',
    keywords: ['private key'],
    pattern: '-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----[\\w+/=\\s\\\\-]*',
    short: true,
  },
] satisfies SecretRule[]);
