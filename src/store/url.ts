// `--store redis://[user:pass@]HOST:PORT[/DB]` (or `rediss://` for TLS): where several leash replicas keep the state
// they must share. PURE. The one promise: credentials go to the connection and nowhere else. `display` is the only
// form any message, log line or audit record may show (`redis://HOST:PORT/DB`), so a password in the flag or in
// LEASH_STORE never reaches stderr, the audit log or a client (the attack: a log shipped to a wider audience than
// the Redis password).

import { LeashError } from '../errors.js';

export interface StoreUrl {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** `redis://HOST:PORT/DB` (`rediss://` with TLS): safe to print. */
  readonly display: string;
}

export function parseStoreUrl(text: string): StoreUrl {
  // Never echo the text itself: it may carry a password. Say what is wrong about its shape only.
  const fail = (what: string): never => {
    throw new LeashError(
      'LEASH_USAGE',
      `--store needs redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://... for TLS: ${what}`,
    );
  };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    fail(`the scheme must be redis or rediss, not ${JSON.stringify(url.protocol.slice(0, -1).slice(0, 20))}`);
  if (url.hostname === '') fail('the host is missing');
  if (url.search !== '' || url.hash !== '') fail('query strings and fragments are not supported');
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,5}$/.test(dbText)) fail('the path must be a database number, like /0');
  const tls = url.protocol === 'rediss:';
  const port = url.port === '' ? 6379 : Number(url.port);
  const db = dbText === '' ? 0 : Number(dbText);
  return {
    tls,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    db,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    display: `${tls ? 'rediss' : 'redis'}://${url.hostname}:${port}/${db}`,
  };
}
