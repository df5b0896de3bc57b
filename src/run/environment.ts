// The environment `leash run` gives the command it wraps: every common client pointed at leash, trusting leash's CA
// where leash intercepts, and nothing inherited that would send traffic around it. PURE: the caller hands in the
// parent environment and the paths of the files it wrote; this decides, so the tests read as a table.
// Never: let an inherited variable (NO_PROXY, ALL_PROXY, a placeholder) override what leash sets, or put a
// credential anywhere but the proxy URLs the command needs to authenticate as its agent.

export type Environment = Readonly<Record<string, string | undefined>>;

/** Both cases: clients pick by URL scheme, and some read only one case (curl ignores upper-case HTTP_PROXY). */
export const PROXY_VARIABLES = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'] as const;

/**
 * Removed from the command's environment. NO_PROXY lists hosts that skip the proxy; ALL_PROXY is the fallback for
 * schemes the variables above do not name, where an inherited socks:// proxy would route around leash. The rest
 * are tools' own proxy settings, which they prefer to HTTPS_PROXY (npm, yarn, global-agent, git's proxy command):
 * inherited, they would send the command's traffic around leash.
 */
export const CLEARED_VARIABLES = [
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'WSS_PROXY',
  'wss_proxy',
  'WS_PROXY',
  'ws_proxy',
  'npm_config_proxy',
  'npm_config_https_proxy',
  'npm_config_noproxy',
  'NPM_CONFIG_PROXY',
  'NPM_CONFIG_HTTPS_PROXY',
  'NPM_CONFIG_NOPROXY',
  'YARN_HTTP_PROXY',
  'YARN_HTTPS_PROXY',
  'GLOBAL_AGENT_HTTP_PROXY',
  'GLOBAL_AGENT_HTTPS_PROXY',
  'GLOBAL_AGENT_NO_PROXY',
  'GIT_PROXY_COMMAND',
] as const;

/**
 * Where each ecosystem reads its CA trust from: Node, OpenSSL (Python's ssl, Ruby, Go's crypto/x509 on Linux),
 * requests, curl, git, pip, the AWS SDKs and CLI, Deno. All point at one merged bundle: the system roots plus
 * leash's CA, so un-intercepted hosts (spliced tunnels, verified by the command itself) still verify.
 */
export const CA_VARIABLES = [
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'REQUESTS_CA_BUNDLE',
  'CURL_CA_BUNDLE',
  'GIT_SSL_CAINFO',
  'PIP_CERT',
  'AWS_CA_BUNDLE',
  'DENO_CERT',
] as const;

export interface ChildEnvironmentInput {
  /** The environment leash run itself was started with. */
  readonly base: Environment;
  /** The proxy as the command must reach it, with the agent's credentials in its userinfo when it has a token. */
  readonly proxyUrl: string;
  /** The merged CA bundle; only when leash intercepts TLS (else the command's own trust is left alone). */
  readonly caBundle?: string;
  /** A file: URL of the module that makes Node's built-in fetch honour the proxy variables (NODE_OPTIONS --import). */
  readonly nodePreload?: string;
  /**
   * Secret placeholders: variables the command sees instead of real credentials, which leash swaps for the secret
   * on the way out (credential injection, `secrets:` in the policy). The one place they enter the command's
   * environment; empty until that feature supplies them. They never override what leash sets below.
   */
  readonly placeholders: Readonly<Record<string, string>>;
}

export function childEnvironment(input: ChildEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(input.base)) if (value !== undefined) env[key] = value;
  for (const [key, value] of Object.entries(input.placeholders)) env[key] = value;
  for (const key of CLEARED_VARIABLES) delete env[key];
  for (const key of PROXY_VARIABLES) env[key] = input.proxyUrl;
  if (input.caBundle !== undefined) for (const key of CA_VARIABLES) env[key] = input.caBundle;
  if (input.nodePreload !== undefined) {
    const own = `--import ${input.nodePreload}`;
    env.NODE_OPTIONS = env.NODE_OPTIONS ? `${env.NODE_OPTIONS} ${own}` : own;
  }
  // Node 24 and 22.21+ make fetch and http honour the variables themselves with this; older Nodes ignore it.
  env.NODE_USE_ENV_PROXY = '1';
  return env;
}

/**
 * The proxy URL a command uses: `http://AGENT:TOKEN@HOST:PORT` when the agent authenticates with a token, else
 * `http://HOST:PORT` (the agent is then told apart by its uid or address, or is anonymous). RFC 3986 §3.2.1:
 * userinfo is percent-encoded, so a token with `@`, `:` or `/` survives.
 */
export function proxyUrlFor(
  host: string,
  port: number,
  credentials?: { readonly agent: string; readonly token: string },
): string {
  const at = host.includes(':') ? `[${host}]` : host;
  const userinfo = credentials
    ? `${encodeURIComponent(credentials.agent)}:${encodeURIComponent(credentials.token)}@`
    : '';
  return `http://${userinfo}${at}:${port}`;
}
