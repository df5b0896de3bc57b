import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_HELLO_BYTES, type HelloResult, readClientHello } from '../../src/tls/client-hello.js';

// A small ClientHello builder: each helper is one TLS presentation-language construct.
const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
const bytes = (text: string) => Buffer.from(text, 'latin1');
const vec8 = (...parts: Buffer[]) => Buffer.concat([u8(Buffer.concat(parts).length), ...parts]);
const vec16 = (...parts: Buffer[]) => Buffer.concat([u16(Buffer.concat(parts).length), ...parts]);
const ext = (type: number, data: Buffer) => Buffer.concat([u16(type), vec16(data)]);
const hostName = (name: string | Buffer) =>
  Buffer.concat([u8(0), vec16(typeof name === 'string' ? bytes(name) : name)]);
const sni = (...names: (string | Buffer)[]) => ext(0, vec16(...names.map(hostName)));
const alpn = (...protocols: string[]) => ext(16, vec16(...protocols.map((p) => vec8(bytes(p)))));
const supportedVersions = ext(43, vec8(u16(0x0304), u16(0x0303)));
const grease = ext(0x0a0a, Buffer.alloc(0));

interface HelloParts {
  version?: number;
  sessionId?: Buffer;
  cipherSuites?: Buffer;
  compression?: Buffer;
  /** `null` leaves the extensions block out entirely, as a TLS 1.2 client may. */
  extensions?: Buffer[] | null;
  trailing?: Buffer;
}

function helloBody(parts: HelloParts = {}): Buffer {
  const { version = 0x0303, sessionId = Buffer.alloc(32, 0xab), extensions = [sni('api.example.test')] } = parts;
  return Buffer.concat([
    u16(version),
    Buffer.alloc(32, 0x11), // random
    vec8(sessionId),
    parts.cipherSuites ?? vec16(u16(0x1301), u16(0x1302), u16(0xc02f)),
    parts.compression ?? vec8(u8(0)),
    extensions === null ? Buffer.alloc(0) : vec16(...extensions),
    parts.trailing ?? Buffer.alloc(0),
  ]);
}

const handshake = (body: Buffer, type = 1) => Buffer.concat([u8(type), u24(body.length), body]);
const record = (fragment: Buffer, contentType = 22, version = 0x0301) =>
  Buffer.concat([u8(contentType), u16(version), u16(fragment.length), fragment]);
/** One handshake message cut into records at the given fragment offsets. */
function records(message: Buffer, ...cuts: number[]): Buffer {
  const bounds = [0, ...cuts, message.length];
  return Buffer.concat(bounds.slice(1).map((end, i) => record(message.subarray(bounds[i], end))));
}
const clientHello = (parts?: HelloParts) => record(handshake(helloBody(parts)));

const plainHello = clientHello({
  extensions: [grease, sni('api.example.test'), alpn('h2', 'http/1.1'), supportedVersions],
});

describe('readClientHello: complete hellos', () => {
  const twoRecords = records(handshake(helloBody()), 40);
  const headerSplit = records(handshake(helloBody()), 1, 3);
  const followedByCcs = Buffer.concat([clientHello(), record(u8(1), 20)]);

  // `length` defaults to the whole input: the hello is all there is.
  it.each<[name: string, input: Buffer, serverName: string | undefined, alpn: string[], length?: number]>([
    ['SNI and ALPN', plainHello, 'api.example.test', ['h2', 'http/1.1']],
    ['no SNI', clientHello({ extensions: [alpn('h2')] }), undefined, ['h2']],
    ['no extensions block (TLS 1.2)', clientHello({ extensions: null }), undefined, []],
    ['IP address in SNI (reported; policy decides)', clientHello({ extensions: [sni('192.0.2.1')] }), '192.0.2.1', []],
    ['upper case and trailing dot', clientHello({ extensions: [sni('API.Example.TEST.')] }), 'api.example.test', []],
    ['empty session id', clientHello({ sessionId: Buffer.alloc(0) }), 'api.example.test', []],
    ['fragmented across two records', twoRecords, 'api.example.test', []],
    ['handshake header split across records', headerSplit, 'api.example.test', []],
    ['later records left unread', followedByCcs, 'api.example.test', [], clientHello().length],
  ])('%s', (_name, input, serverName, protocols, length = input.length) => {
    expect(readClientHello(input)).toEqual({ kind: 'hello', serverName, alpn: protocols, length });
  });
});

describe('readClientHello: refusals', () => {
  const body = helloBody();
  const alert = record(Buffer.from([2, 40]), 21);
  const overlong = Buffer.concat([u8(22), u16(0x0301), u16(2 ** 14 + 1)]);
  const tooBigHandshake = record(Buffer.concat([u8(1), u24(100_000)]));

  it.each<[name: string, input: Buffer, kind: HelloResult['kind'], message: RegExp]>([
    ['plain HTTP', bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), 'not_tls', /text .*GET/],
    ['CONNECT inside the tunnel', bytes('CONNECT x:443 HTTP/1.1\r\n'), 'not_tls', /not a TLS record/],
    ['SSLv2-style hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15]), 'not_tls', /SSLv2/],
    ['application data first', record(bytes('hi'), 23), 'not_tls', /0x17/],
    ['handshake type with bad version', Buffer.from([22, 0x04, 0x00]), 'not_tls', /version 0x04xx/],
    [
      'duplicate SNI extension',
      clientHello({ extensions: [sni('a.test'), sni('b.test')] }),
      'malformed',
      /extension 0 appears more than once/,
    ],
    [
      'duplicate ALPN extension',
      clientHello({ extensions: [alpn('h2'), alpn('h2')] }),
      'malformed',
      /extension 16 appears more than once/,
    ],
    [
      'two host_names in one list',
      clientHello({ extensions: [sni('a.test', 'b.test')] }),
      'malformed',
      /more than one host_name/,
    ],
    [
      'unknown name_type',
      clientHello({ extensions: [ext(0, vec16(u8(1), vec16(bytes('a.test'))))] }),
      'malformed',
      /name_type 1/,
    ],
    [
      'NUL in host_name',
      clientHello({ extensions: [sni(bytes('allowed.test\0evil.test'))] }),
      'malformed',
      /forbidden byte 0x00/,
    ],
    [
      'non-ASCII host_name',
      clientHello({ extensions: [sni(Buffer.from('bücher.test', 'utf8'))] }),
      'malformed',
      /forbidden byte 0xc3/,
    ],
    ['space in host_name', clientHello({ extensions: [sni('a .test')] }), 'malformed', /forbidden byte 0x20/],
    ['empty host_name', clientHello({ extensions: [sni('')] }), 'malformed', /host_name length 0/],
    ['host_name that is only a dot', clientHello({ extensions: [sni('.')] }), 'malformed', /host_name is empty/],
    [
      'empty server_name extension',
      clientHello({ extensions: [ext(0, Buffer.alloc(0))] }),
      'malformed',
      /server_name list length overruns/,
    ],
    [
      'server_name list longer than its extension',
      clientHello({ extensions: [ext(0, Buffer.concat([u16(200), hostName('a.test')]))] }),
      'malformed',
      /server_name list overruns/,
    ],
    [
      'bytes after the server_name list',
      clientHello({ extensions: [ext(0, Buffer.concat([vec16(hostName('a.test')), u8(0)]))] }),
      'malformed',
      /trailing/,
    ],
    [
      'extension longer than the block',
      clientHello({ extensions: [Buffer.concat([u16(0), u16(500), hostName('a.test')])] }),
      'malformed',
      /extension 0 overruns/,
    ],
    [
      'extensions block longer than the hello',
      record(handshake(Buffer.concat([body.subarray(0, body.length - sni('api.example.test').length - 2), u16(900)]))),
      'malformed',
      /extensions overruns/,
    ],
    ['bytes after the extensions', clientHello({ trailing: Buffer.from([0, 0]) }), 'malformed', /trailing bytes/],
    [
      'empty ALPN protocol name',
      clientHello({ extensions: [ext(16, vec16(vec8()))] }),
      'malformed',
      /ALPN protocol list length 1/,
    ],
    ['session_id longer than 32', clientHello({ sessionId: Buffer.alloc(33) }), 'malformed', /session_id length 33/],
    ['odd cipher_suites length', clientHello({ cipherSuites: vec16(u16(0x1301), u8(0)) }), 'malformed', /odd length/],
    ['no compression methods', clientHello({ compression: vec8() }), 'malformed', /compression_methods length 0/],
    ['legacy_version not TLS', clientHello({ version: 0x0200 }), 'malformed', /legacy_version 0x0200/],
    [
      'alert record in the middle',
      Buffer.concat([record(handshake(body).subarray(0, 20)), alert]),
      'malformed',
      /content type 21/,
    ],
    ['server_hello instead of client_hello', record(handshake(body, 2)), 'malformed', /type 2, not client_hello/],
    ['record longer than 2^14', overlong, 'malformed', /exceeds 2\^14/],
    ['empty record', record(Buffer.alloc(0)), 'malformed', /empty handshake record/],
    ['handshake longer than the cap (seen in its header)', tooBigHandshake, 'malformed', /exceeds the 16404-byte cap/],
    [
      'more bytes in the record after the hello',
      record(Buffer.concat([handshake(body), u8(0)])),
      'malformed',
      /bytes after the ClientHello/,
    ],
    [
      'later record of a bad version',
      Buffer.concat([record(handshake(body).subarray(0, 20)), Buffer.from([22, 0x02])]),
      'malformed',
      /version 0x02xx/,
    ],
  ])('%s -> %s', (_name, input, kind, message) => {
    const result = readClientHello(input);
    expect(result.kind).toBe(kind);
    expect(result).toHaveProperty('message', expect.stringMatching(message));
  });

  it('refuses a hello whose record headers push it past the cap, without waiting for the rest', () => {
    const message = handshake(helloBody({ extensions: [sni('a.test'), ext(21, Buffer.alloc(800))] }));
    const cuts = Array.from({ length: Math.floor((message.length - 1) / 100) }, (_, i) => (i + 1) * 100);
    const many = records(message, ...cuts);
    const cap = message.length + 20; // room for the hello, not for its ten record headers
    expect(readClientHello(many, cap)).toEqual({
      kind: 'malformed',
      message: `ClientHello exceeds the ${cap}-byte cap`,
    });
    // The reader never asks for more than `cap` bytes.
    expect(readClientHello(many.subarray(0, cap), cap).kind).toBe('malformed');
  });

  it('accepts a hello of exactly the cap', () => {
    const padding = (size: number) => ext(21, Buffer.alloc(size));
    const base = clientHello({ extensions: [sni('a.test'), padding(0)] });
    const exact = clientHello({ extensions: [sni('a.test'), padding(DEFAULT_MAX_HELLO_BYTES - base.length - 20)] });
    // A single record cannot carry more than 2^14, so spread it over two.
    const twoRecords = records(exact.subarray(5), 8000);
    expect(readClientHello(twoRecords, twoRecords.length)).toMatchObject({ kind: 'hello', length: twoRecords.length });
    expect(readClientHello(twoRecords, twoRecords.length - 1).kind).toBe('malformed');
  });
});

describe('readClientHello: incremental reading', () => {
  it.each<[name: string, input: Buffer]>([
    ['empty buffer', Buffer.alloc(0)],
    ['content type only', Buffer.from([22])],
    ['record header only', plainHello.subarray(0, 5)],
    ['handshake header only', plainHello.subarray(0, 9)],
    ['truncated one byte short', plainHello.subarray(0, plainHello.length - 1)],
    ['first of two records', records(handshake(helloBody()), 40).subarray(0, 45)],
    ['second record header cut', records(handshake(helloBody()), 40).subarray(0, 47)],
  ])('%s -> need_more', (_name, input) => {
    expect(readClientHello(input)).toEqual({ kind: 'need_more' });
  });

  it('answers need_more for every proper prefix of a fragmented hello, then hello', () => {
    const input = records(handshake(helloBody({ extensions: [sni('api.example.test'), alpn('h2')] })), 1, 2, 50);
    for (let end = 0; end < input.length; end++) {
      expect(readClientHello(input.subarray(0, end)), `prefix of ${end} bytes`).toEqual({ kind: 'need_more' });
    }
    expect(readClientHello(input)).toMatchObject({ kind: 'hello', serverName: 'api.example.test', alpn: ['h2'] });
  });
});

describe('readClientHello: a real ClientHello from node:tls', () => {
  let captured: Buffer;
  let server: net.Server;

  beforeAll(async () => {
    let chunks = Buffer.alloc(0);
    let done: (bytes: Buffer) => void = () => {};
    const received = new Promise<Buffer>((resolve) => (done = resolve));
    server = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => {
        chunks = Buffer.concat([chunks, chunk]);
        if (readClientHello(chunks).kind !== 'need_more') {
          done(chunks);
          socket.destroy();
        }
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const client = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'api.example.test',
      ALPNProtocols: ['h2', 'http/1.1'],
    });
    client.on('error', () => {}); // the server hangs up mid-handshake on purpose
    captured = await received;
    client.destroy();
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('reads the SNI and ALPN that tls.connect sent', () => {
    expect(readClientHello(captured)).toEqual({
      kind: 'hello',
      serverName: 'api.example.test',
      alpn: ['h2', 'http/1.1'],
      length: captured.length,
    });
  });

  it('answers need_more for every byte until the last', () => {
    for (let end = 0; end < captured.length; end++) {
      expect(readClientHello(captured.subarray(0, end)).kind, `prefix of ${end} bytes`).toBe('need_more');
    }
    expect(readClientHello(captured).kind).toBe('hello');
  });

  it('reads the same hello re-framed as many small records', () => {
    const message = captured.subarray(5);
    const cuts = Array.from({ length: Math.floor((message.length - 1) / 64) }, (_, i) => (i + 1) * 64);
    const reframed = records(message, ...cuts);
    expect(readClientHello(reframed)).toMatchObject({
      kind: 'hello',
      serverName: 'api.example.test',
      length: reframed.length,
    });
  });
});
