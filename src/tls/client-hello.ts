// Incremental reader for the first flight of a TLS client: the ClientHello, with its SNI and ALPN.
// Why: a CONNECT tunnel is authorised for one host; before any client byte goes upstream the tunnel checks that
// the SNI names that same host, so an agent cannot CONNECT to an allowed name and then speak TLS to another
// virtual host on the same address (domain fronting). Re-called with the growing buffer until it answers.
// PURE and sans-IO: reads only the bytes it is handed, never a socket; anything ambiguous is 'malformed', never
// a guess, and it never reads past `maxBytes`.
// Formats: RFC 8446 §5.1 (records), §4.1.2 (ClientHello), §4.2 (extensions); RFC 5246 §7.4.1.2; RFC 6066 §3
// (server_name); RFC 7301 §3.1 (ALPN).

export type HelloResult =
  | { kind: 'need_more' }
  | { kind: 'hello'; serverName: string | undefined; alpn: string[]; length: number }
  | { kind: 'not_tls'; message: string }
  | { kind: 'malformed'; message: string };

/** A maximum-size (2^14) hello plus some record framing; real ones are 0.5 to 2 KB, even with post-quantum keys. */
export const DEFAULT_MAX_HELLO_BYTES = 16 * 1024 + 5 * 4;

const RECORD_HEADER = 5;
const MAX_FRAGMENT = 2 ** 14; // RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_HEADER = 4;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const NAME_TYPE_HOST_NAME = 0;

const NEED_MORE: HelloResult = Object.freeze({ kind: 'need_more' });

/**
 * Reads a ClientHello from the start of `buffered`, reassembling it across records.
 * `length` in the answer is where the record holding the hello's last byte ends: the bytes to hold back.
 */
export function readClientHello(buffered: Buffer, maxBytes: number = DEFAULT_MAX_HELLO_BYTES): HelloResult {
  const first = notTlsReason(buffered);
  if (first !== undefined) return { kind: 'not_tls', message: first };

  const fragments: Buffer[] = [];
  let gathered = 0; // handshake bytes seen so far, across records
  let helloTotal: number | undefined; // handshake header + body, once the header is in
  let offset = 0;

  for (;;) {
    if (offset + RECORD_HEADER > maxBytes) return malformed(`ClientHello exceeds the ${maxBytes}-byte cap`);
    const type = buffered[offset];
    if (type === undefined) return NEED_MORE;
    // Interleaving another content type inside a handshake message is forbidden (RFC 8446 §5.1).
    if (type !== CONTENT_HANDSHAKE) {
      return malformed(`record of content type ${type} arrived before the ClientHello was complete`);
    }
    const major = buffered[offset + 1];
    if (major !== undefined && major !== 3) return malformed(`record version ${hex(major, 2)}xx is not TLS`);
    if (buffered.length < offset + RECORD_HEADER) return NEED_MORE;

    const recordLength = buffered.readUInt16BE(offset + 3);
    if (recordLength === 0) return malformed('empty handshake record');
    if (recordLength > MAX_FRAGMENT) return malformed(`record length ${recordLength} exceeds 2^14`);
    const bodyStart = offset + RECORD_HEADER;
    const recordEnd = bodyStart + recordLength;
    if (recordEnd > maxBytes) return malformed(`ClientHello exceeds the ${maxBytes}-byte cap`);

    const fragment = buffered.subarray(bodyStart, Math.min(recordEnd, buffered.length));
    const gatheredBefore = gathered;
    fragments.push(fragment);
    gathered += fragment.length;

    if (helloTotal === undefined && gathered >= HANDSHAKE_HEADER) {
      const header = Buffer.concat(fragments).subarray(0, HANDSHAKE_HEADER);
      if (header[0] !== HANDSHAKE_CLIENT_HELLO) {
        return malformed(`first handshake message has type ${header[0]}, not client_hello`);
      }
      helloTotal = HANDSHAKE_HEADER + header.readUIntBE(1, 3);
      if (helloTotal + RECORD_HEADER > maxBytes) {
        return malformed(`ClientHello of ${helloTotal - HANDSHAKE_HEADER} bytes exceeds the ${maxBytes}-byte cap`);
      }
    }
    // A client sends nothing else in the handshake before the server answers, so bytes after the hello
    // inside its last record are an attempt to smuggle something past this check.
    if (helloTotal !== undefined && gatheredBefore + recordLength > helloTotal) {
      return malformed('handshake record carries bytes after the ClientHello');
    }
    if (buffered.length < recordEnd) return NEED_MORE;
    if (helloTotal !== undefined && gathered === helloTotal) {
      const body = Buffer.concat(fragments).subarray(HANDSHAKE_HEADER);
      try {
        return { kind: 'hello', ...parseClientHelloBody(body), length: recordEnd };
      } catch (err) {
        if (err instanceof HelloError) return malformed(err.message);
        throw err;
      }
    }
    offset = recordEnd;
  }
}

function notTlsReason(buffered: Buffer): string | undefined {
  const type = buffered[0];
  if (type === undefined || type === CONTENT_HANDSHAKE) {
    const major = buffered[1];
    return major === undefined || major === 3 ? undefined : `record version ${hex(major, 2)}xx is not TLS`;
  }
  if (type & 0x80) return 'SSLv2-style ClientHello is not supported';
  if (type >= 0x20 && type < 0x7f) {
    return `first bytes are text (${JSON.stringify(printablePrefix(buffered))}), not a TLS record`;
  }
  return `first byte ${hex(type, 2)} is not a TLS handshake record`;
}

function parseClientHelloBody(body: Buffer): { serverName: string | undefined; alpn: string[] } {
  const hello = new Reader(body, 'ClientHello');
  const version = hello.u16();
  if (version >> 8 !== 3) throw new HelloError(`ClientHello legacy_version ${hex(version, 4)} is not TLS`);
  hello.take(32, 'random');
  hello.vector(1, 0, 32, 'session_id');
  const suites = hello.vector(2, 2, 2 ** 16 - 2, 'cipher_suites');
  if (suites.remaining % 2 !== 0) throw new HelloError('cipher_suites has an odd length');
  hello.vector(1, 1, 2 ** 8 - 1, 'compression_methods');

  let serverName: string | undefined;
  let alpn: string[] = [];
  // RFC 5246 §7.4.1.2 lets a TLS 1.2 hello end here, with no extensions at all.
  if (hello.remaining === 0) return { serverName, alpn };

  const extensions = hello.vector(2, 0, 2 ** 16 - 1, 'extensions');
  hello.end();
  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    const type = extensions.u16();
    const data = extensions.vector(2, 0, 2 ** 16 - 1, `extension ${type}`);
    // RFC 8446 §4.2: at most one of each; two server_names would let two parsers disagree on the host.
    if (seen.has(type)) throw new HelloError(`extension ${type} appears more than once`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) serverName = parseServerName(data);
    else if (type === EXT_ALPN) alpn = parseAlpn(data);
  }
  return { serverName, alpn };
}

function parseServerName(data: Reader): string {
  const list = data.vector(2, 1, 2 ** 16 - 1, 'server_name list');
  data.end();
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8();
    // Only host_name is defined and RFC 6066 gives no length rule for others, so they cannot be skipped safely.
    if (nameType !== NAME_TYPE_HOST_NAME) throw new HelloError(`server_name has unknown name_type ${nameType}`);
    const name = list.vector(2, 1, 2 ** 16 - 1, 'host_name').rest();
    if (hostName !== undefined) throw new HelloError('server_name lists more than one host_name');
    // No NUL, control, space or non-ASCII byte: C libraries and logs would each read such a name differently.
    const bad = name.findIndex((byte) => byte < 0x21 || byte > 0x7e);
    if (bad >= 0) throw new HelloError(`host_name has a forbidden byte ${hex(name[bad] ?? 0, 2)}`);
    hostName = name.toString('latin1').toLowerCase().replace(/\.$/, '');
    if (hostName === '') throw new HelloError('host_name is empty');
  }
  return hostName as string;
}

function parseAlpn(data: Reader): string[] {
  const list = data.vector(2, 2, 2 ** 16 - 1, 'ALPN protocol list');
  data.end();
  const protocols: string[] = [];
  while (list.remaining > 0)
    protocols.push(
      list
        .vector(1, 1, 2 ** 8 - 1, 'ALPN protocol')
        .rest()
        .toString('latin1'),
    );
  return protocols;
}

class HelloError extends Error {}

/** Bounds-checked cursor over one TLS structure; a length that overruns its container throws. */
class Reader {
  private pos = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(): number {
    return this.take(1, 'u8')[0] as number;
  }

  u16(): number {
    return this.take(2, 'u16').readUInt16BE(0);
  }

  take(n: number, field: string): Buffer {
    if (n > this.remaining) throw new HelloError(`${field} overruns ${this.what}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A `<min..max>` vector whose length prefix is `lengthBytes` long, as a reader of its own. */
  vector(lengthBytes: 1 | 2, min: number, max: number, field: string): Reader {
    const length = this.take(lengthBytes, `${field} length`).readUIntBE(0, lengthBytes);
    if (length < min || length > max) throw new HelloError(`${field} length ${length} is outside ${min}..${max}`);
    return new Reader(this.take(length, field), field);
  }

  rest(): Buffer {
    return this.take(this.remaining, this.what);
  }

  end(): void {
    if (this.remaining !== 0) throw new HelloError(`${this.remaining} trailing bytes after ${this.what}`);
  }
}

function malformed(message: string): HelloResult {
  return { kind: 'malformed', message };
}

function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

function printablePrefix(buffered: Buffer): string {
  return buffered
    .subarray(0, 16)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '.');
}
