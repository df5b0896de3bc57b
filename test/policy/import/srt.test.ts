// sandbox-runtime settings → leash: the imported policy decides the fixture's requests as sandbox-runtime's proxy
// would (deniedDomains first, then allowedDomains, else deny; no :port = every port).

import { describe, expect, it } from 'vitest';
import { importSrt } from '../../../src/policy/import/srt.js';
import { importFixture, leashVerdict, type SourceVerdict } from './round-trip.js';

interface Row {
  readonly name: string;
  readonly request: string;
  readonly srt: SourceVerdict;
}

const { policy, yaml } = importFixture('srt', 'srt-settings.json');

describe('leash policy import --from srt', () => {
  it.each<Row>([
    { name: 'an allowed host over HTTPS', request: 'CONNECT github.com:443', srt: 'allow' },
    { name: 'an allowed host, plain HTTP', request: 'GET http://github.com/x', srt: 'allow' },
    { name: 'an allowed host on another port (no :port = every port)', request: 'CONNECT github.com:22', srt: 'allow' },
    { name: 'a subdomain of an allowed wildcard', request: 'CONNECT api.github.com:443', srt: 'allow' },
    {
      name: 'a denied host under an allowed wildcard (deniedDomains first)',
      request: 'CONNECT gist.github.com:443',
      srt: 'deny',
    },
    { name: 'a denied host on any port', request: 'GET http://gist.github.com:8080/', srt: 'deny' },
    { name: 'the apex of a wildcard is not covered', request: 'CONNECT example.com:443', srt: 'deny' },
    { name: 'a deep subdomain of a wildcard', request: 'CONNECT a.b.example.com:443', srt: 'allow' },
    { name: 'a denied wildcard under an allowed one', request: 'CONNECT x.evil.example.com:443', srt: 'deny' },
    { name: 'a host denied on one port only, on that port', request: 'CONNECT upload.example.com:443', srt: 'deny' },
    {
      name: 'a host denied on one port only, on another port',
      request: 'GET http://upload.example.com/',
      srt: 'allow',
    },
    { name: 'an entry with :port, on that port', request: 'CONNECT internal.example.org:8443', srt: 'allow' },
    { name: 'an entry with :port, on another port', request: 'CONNECT internal.example.org:443', srt: 'deny' },
    { name: 'an unlisted host', request: 'CONNECT example.net:443', srt: 'deny' },
    { name: 'localhost', request: 'GET http://localhost:3000/', srt: 'allow' },
  ])('$name: $request → $srt', ({ request, srt }) => {
    expect(leashVerdict(policy, request)).toBe(srt);
  });

  it('names what it could not carry over', () => {
    expect(yaml).toMatch(/not carried over: network.allowLocalBinding/);
    expect(yaml).toMatch(/not carried over: filesystem/);
  });

  it.each([
    ['JSON syntax', '{\n  "network": {\n    "allowedDomains": ["a.example",]\n  }\n}\n', 3, /JSON syntax/],
    [
      'a pattern leash cannot read',
      '{\n  "network": {\n    "allowedDomains": [\n      "a.*.example"\n    ]\n  }\n}\n',
      4,
      /only allowed as a whole leading label/,
    ],
    ['"*" in allowedDomains', '{ "network": {\n "allowedDomains": ["*"] } }', 2, /only in deniedDomains/],
    ['no network object', '{ "filesystem": {} }', 1, /no "network" object/],
  ])('refuses %s, naming the line', (_name, text, line, message) => {
    const result = importSrt('settings.json', text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues[0]).toMatchObject({
      location: { file: 'settings.json', line },
      message: expect.stringMatching(message),
    });
  });
});
