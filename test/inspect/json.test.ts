// References in JSON bodies, read as they stream: every string value at any depth, named by its JSON path; keys
// are names, not values. Malformed input stops the scan and keeps what was found; it never throws.

import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_STRING, JsonReferenceScanner, MAX_DEPTH } from '../../src/inspect/json.js';
import type { Reference } from '../../src/inspect/reference.js';
import { MAX_URL_LENGTH } from '../../src/inspect/urls.js';

const RESPONSE = 'https://search.example.com/v1/search?q=cats';

/** Feeds the pieces in order; returns every reference as `found url`. */
function scan(pieces: readonly string[], maxString?: number): string[] {
  const scanner = new JsonReferenceScanner(RESPONSE, maxString);
  const found: Reference[] = [];
  for (const piece of pieces) found.push(...scanner.write(piece));
  found.push(...scanner.end());
  return found.map((r) => `${r.found} ${r.url}`);
}

describe('JsonReferenceScanner: where references are found', () => {
  it.each<[name: string, json: string, found: string[]]>([
    ['a top-level string', '"https://cdn.example.com/a.png"', ['$ https://cdn.example.com/a.png']],
    ['an object value', '{"url":"https://cdn.example.com/a.png"}', ['$.url https://cdn.example.com/a.png']],
    [
      'deep paths, arrays of objects',
      '{"results":[{"title":"a"},{"title":"b","links":{"image":"https://img.example.net/b.jpg"}},{"x":1},{"url":"https://cdn.example.com/d"}]}',
      ['$.results[1].links.image https://img.example.net/b.jpg', '$.results[3].url https://cdn.example.com/d'],
    ],
    [
      'array items',
      '["https://a.example/", 1, "https://b.example/"]',
      ['$[0] https://a.example/', '$[2] https://b.example/'],
    ],
    [
      'nested arrays',
      '[[["x", "https://a.example/"]], ["https://b.example/"]]',
      ['$[0][0][1] https://a.example/', '$[1][0] https://b.example/'],
    ],
    [
      'a key that is not an identifier',
      '{"content-url":"https://a.example/","0":"https://b.example/"}',
      ['$["content-url"] https://a.example/', '$["0"] https://b.example/'],
    ],
    [
      'inside longer text',
      '{"snippet":"Photos at https://photos.example.org/cats. And more at http://more.example/"}',
      ['$.snippet https://photos.example.org/cats', '$.snippet http://more.example/'],
    ],
    [
      'scheme-relative values resolve against the response',
      '{"thumb":"//upload.example.org/t.jpg"}',
      ['$.thumb https://upload.example.org/t.jpg'],
    ],
    ['relative paths are not references in JSON', '{"next":"/v1/search?page=2","img":"a.png"}', []],
    ['keys are not values', '{"https://key.example/":"x"}', []],
    [
      'numbers, booleans and null between values',
      '{"n":-1.5e+3,"t":true,"f":false,"z":null,"u":"https://a.example/"}',
      ['$.u https://a.example/'],
    ],
    [
      'whitespace everywhere',
      ' {\n\t"a" :\r\n [ "https://a.example/" , { "b" : "https://b.example/" } ] \n} ',
      ['$.a[0] https://a.example/', '$.a[1].b https://b.example/'],
    ],
    ['empty containers', '{"a":{},"b":[],"c":[{}],"d":"https://d.example/"}', ['$.d https://d.example/']],
    [
      'IP literals are kept (the caller refuses them)',
      '{"u":"http://169.254.169.254/latest"}',
      ['$.u http://169.254.169.254/latest'],
    ],
    ['IDN hosts come out as punycode', '{"u":"https://bücher.example/x"}', ['$.u https://xn--bcher-kva.example/x']],
  ])('%s', (_name, json, found) => {
    expect(scan([json])).toEqual(found);
  });

  it('keeps the normalised reference fields', () => {
    const scanner = new JsonReferenceScanner(RESPONSE);
    expect(scanner.write('{"u":"HTTP://CDN.Example.com:8080/x"}')).toEqual([
      {
        url: 'http://cdn.example.com:8080/x',
        scheme: 'http',
        host: 'cdn.example.com',
        hostKind: 'name',
        port: 8080,
        found: '$.u',
      },
    ]);
  });
});

describe('JsonReferenceScanner: string escapes', () => {
  it.each<[name: string, json: string, found: string[]]>([
    [
      'escaped slashes (PHP and others)',
      '{"u":"https:\\/\\/cdn.example.com\\/a.png"}',
      ['$.u https://cdn.example.com/a.png'],
    ],
    ['\\u002f for a slash', '{"u":"https:\\u002f\\u002Fcdn.example.com/a"}', ['$.u https://cdn.example.com/a']],
    ['\\u escapes in the host', '{"u":"https://\\u0063dn.example.com/"}', ['$.u https://cdn.example.com/']],
    [
      'a non-ASCII host escaped as \\u',
      '{"u":"https://b\\u00fccher.example/"}',
      ['$.u https://xn--bcher-kva.example/'],
    ],
    ['a surrogate pair before the URL', '{"u":"\\ud83d\\ude00 https://a.example/"}', ['$.u https://a.example/']],
    [
      'escaped quotes end the URL, not the string',
      '{"html":"<a href=\\"https://a.example/x\\">y</a> https://b.example/"}',
      ['$.html https://a.example/x', '$.html https://b.example/'],
    ],
    [
      '\\n and \\t separate URLs',
      '{"t":"https://a.example/\\nhttps://b.example/\\thttps://c.example/"}',
      ['$.t https://a.example/', '$.t https://b.example/', '$.t https://c.example/'],
    ],
    ['escaped characters in a key', '{"a\\"b":"https://a.example/"}', ['$["a\\"b"] https://a.example/']],
  ])('%s', (_name, json, found) => {
    expect(scan([json])).toEqual(found);
  });
});

describe('JsonReferenceScanner: streaming', () => {
  const doc =
    '{"results":[{"url":"https:\\/\\/cdn.example.com\\/a\\u002fb.png","t":"caf\\u00e9 https://b.example/"},[1,true,null,"http://c.example:8080/"]]}\n';
  const expected = [
    '$.results[0].url https://cdn.example.com/a/b.png',
    '$.results[0].t https://b.example/',
    '$.results[1][3] http://c.example:8080/',
  ];

  it('finds the same references when the text is split at every possible point', () => {
    expect(scan([doc])).toEqual(expected);
    for (let i = 0; i <= doc.length; i++) {
      expect(
        scan([doc.slice(0, i), doc.slice(i)]),
        `split at ${i}: ${JSON.stringify(doc.slice(Math.max(0, i - 8), i))}|`,
      ).toEqual(expected);
    }
  });

  it('finds them when the text arrives one character at a time', () => {
    expect(scan([...doc])).toEqual(expected);
  });

  it('reports a string split across writes by the write that completes it', () => {
    const scanner = new JsonReferenceScanner(RESPONSE);
    expect(scanner.write('{"a":"https://cdn.exa')).toEqual([]);
    expect(scanner.write('mple.com/x", "b": 1}').map((r) => r.url)).toEqual(['https://cdn.example.com/x']);
  });

  it.each<[name: string, body: string, found: string[]]>([
    [
      'NDJSON',
      '{"u":"https://a.example/"}\n{"u":"https://b.example/"}\n{"v":["https://c.example/"]}\n',
      ['$.u https://a.example/', '$.u https://b.example/', '$.v[0] https://c.example/'],
    ],
    [
      'NDJSON with CRLF and blank lines',
      '{"u":"https://a.example/"}\r\n\r\n{"u":"https://b.example/"}',
      ['$.u https://a.example/', '$.u https://b.example/'],
    ],
    [
      'concatenated values without separators',
      '{"u":"https://a.example/"}["https://b.example/"]"https://c.example/"',
      ['$.u https://a.example/', '$[0] https://b.example/', '$ https://c.example/'],
    ],
    ['top-level numbers between values', '1 2.5 {"u":"https://a.example/"} -3', ['$.u https://a.example/']],
    ['a byte order mark first', '\ufeff{"u":"https://a.example/"}', ['$.u https://a.example/']],
  ])('several top-level values: %s', (_name, body, found) => {
    expect(scan([body])).toEqual(found);
  });
});

describe('JsonReferenceScanner: malformed input stops the scan and keeps what was found', () => {
  it.each<[name: string, body: string, found: string[]]>([
    ['a stray closing bracket', '{"a":"https://a.example/"}]{"b":"https://b.example/"}', ['$.a https://a.example/']],
    ['a missing colon', '["https://a.example/", {"k" "https://b.example/"}]', ['$[0] https://a.example/']],
    ['a bad escape', '["https://a.example/", "\\x", "https://b.example/"]', ['$[0] https://a.example/']],
    ['a bad \\u escape', '["https://a.example/", "\\u12g4", "https://b.example/"]', ['$[0] https://a.example/']],
    ['a bad literal', '["https://a.example/", tru, "https://b.example/"]', ['$[0] https://a.example/']],
    ['a number with two points', '["https://a.example/", 1.2.3, "https://b.example/"]', ['$[0] https://a.example/']],
    ['single quotes', '["https://a.example/", \'https://b.example/\']', ['$[0] https://a.example/']],
    ['a comment', '["https://a.example/", /* x */ "https://b.example/"]', ['$[0] https://a.example/']],
    ['a comma at top level', '"https://a.example/", "https://b.example/"', ['$ https://a.example/']],
    ['HTML served as JSON', '<html><a href="https://a.example/">', []],
    ['an XSSI prefix', ')]}\'\n{"u":"https://a.example/"}', []],
    ['truncated inside a string', '{"a":"https://a.example/","b":"https://b.exam', ['$.a https://a.example/']],
    ['truncated inside an object', '{"a":["https://a.example/"', ['$.a[0] https://a.example/']],
    ['binary garbage', '\u0000\u0001\u0002', []],
    ['an empty body', '', []],
  ])('%s', (_name, body, found) => {
    expect(() => scan([body])).not.toThrow();
    expect(scan([body])).toEqual(found);
  });

  it('returns [] for every write after it stopped, without throwing', () => {
    const scanner = new JsonReferenceScanner(RESPONSE);
    expect(scanner.write('{"a":"https://a.example/"}}')).toHaveLength(1);
    expect(scanner.scanning).toBe(false);
    expect(scanner.write('{"b":"https://b.example/"}')).toEqual([]);
    expect(scanner.end()).toEqual([]);
  });

  it(`stops at ${MAX_DEPTH} levels of nesting instead of growing the path stack`, () => {
    const deep = `${'['.repeat(MAX_DEPTH - 1)}"https://deep.example/"${']'.repeat(MAX_DEPTH - 1)}`;
    expect(scan([deep])).toEqual([`$${'[0]'.repeat(MAX_DEPTH - 1)} https://deep.example/`]);
    const scanner = new JsonReferenceScanner(RESPONSE);
    expect(scanner.write(`${'['.repeat(1_000_000)}"https://deeper.example/"`)).toEqual([]);
    expect(scanner.scanning).toBe(false);
  });
});

describe('JsonReferenceScanner: huge strings are capped', () => {
  it(`holds at most about maxStringBytes (default ${DEFAULT_MAX_STRING}) of one string, and still finds URLs anywhere in it`, () => {
    const scanner = new JsonReferenceScanner(RESPONSE);
    const found: Reference[] = [];
    let held = 0;
    found.push(...scanner.write('{"text":"https://first.example/ '));
    for (let i = 0; i < 200; i++) {
      // 50 MB in 256 KB writes, with a URL in the middle and one split across two writes.
      const filler = 'lorem ipsum '.repeat((256 * 1024) / 12);
      const piece =
        i === 100
          ? `${filler} https://middle.example/x `
          : i === 150
            ? `${filler} https://spl`
            : i === 151
              ? `it.example/y ${filler}`
              : filler;
      found.push(...scanner.write(piece));
      held = Math.max(held, scanner.heldStringLength);
    }
    found.push(...scanner.write(' https://last.example/"}'), ...scanner.end());
    expect(found.map((r) => `${r.found} ${r.url}`)).toEqual([
      '$.text https://first.example/',
      '$.text https://middle.example/x',
      '$.text https://split.example/y',
      '$.text https://last.example/',
    ]);
    expect(held).toBeLessThanOrEqual(DEFAULT_MAX_STRING + 1);
  });

  it('reports each URL once when windows overlap, whatever the cap', () => {
    const urls = Array.from({ length: 400 }, (_, i) => `https://h${i}.example/${'p'.repeat(i * 7)}`);
    const text = JSON.stringify({ t: urls.join(' ') });
    for (const cap of [2 * MAX_URL_LENGTH, 3 * MAX_URL_LENGTH + 17, 100_000]) {
      expect(scan([text], cap), `cap ${cap}`).toEqual(urls.map((u) => `$.t ${u}`));
    }
  });

  it('a cap below twice MAX_URL_LENGTH is raised to it', () => {
    const scanner = new JsonReferenceScanner(RESPONSE, 10);
    scanner.write(`"${'x'.repeat(10 * MAX_URL_LENGTH)}`);
    expect(scanner.heldStringLength).toBeLessThanOrEqual(2 * MAX_URL_LENGTH + 1);
    expect(scanner.heldStringLength).toBeGreaterThan(10);
  });

  it('truncates very long keys in the path', () => {
    const key = 'k'.repeat(10_000);
    const [line] = scan([`{"${key}":"https://a.example/"}`]);
    expect(line).toBe(`$["${'k'.repeat(256)}…"] https://a.example/`);
  });
});

describe('JsonReferenceScanner: each reference is attributed to its own path (issue 11 §2)', () => {
  it('the same host in $.results[0] and $.results[3] gives two references, each with its own path', () => {
    const body = JSON.stringify({
      results: [
        { image: 'https://cdn.example/0.png' },
        { t: 1 },
        { t: [2, 'x'] },
        { image: 'https://cdn.example/3.png' },
      ],
    });
    expect(scan([body])).toEqual([
      '$.results[0].image https://cdn.example/0.png',
      '$.results[3].image https://cdn.example/3.png',
    ]);
  });
});

describe('JsonReferenceScanner: control bytes', () => {
  it.each([
    ['a raw NUL in the host', '{"u":"http://allowed.example\u0000.attacker.example/"}'],
    ['an escaped NUL in the host', '{"u":"http://allowed.example\\u0000.attacker.example/"}'],
    ['an escaped ESC in the host', '{"u":"http://allowed.example\\u001b.attacker.example/"}'],
    ['an escaped DEL after the host', '{"u":"http://attacker.example\\u007f"}'],
  ])('%s: no reference', (_name, body) => {
    expect(scan([body])).toEqual([]);
  });
});

describe('JsonReferenceScanner: malformed says the body is not JSON', () => {
  const malformed = (pieces: string[]) => {
    const scanner = new JsonReferenceScanner(RESPONSE);
    for (const piece of pieces) scanner.write(piece);
    scanner.end();
    return scanner.malformed;
  };
  it.each<[name: string, body: string, expected: boolean]>([
    ['a complete object', '{"a":[1,"x"]}', false],
    ['NDJSON', '{"a":1}\n{"b":2}\n', false],
    ['an empty body', '', false],
    ['a trailing number', '[1] 42', false],
    ['truncated inside a string', '{"a":"https://a.exam', true],
    ['truncated inside an object', '{"a":["https://a.example/"', true],
    ['truncated after a key', '{"a"', true],
    ['invalid: a stray bracket', '{"a":1}]', true],
    ['invalid: HTML', '<html>', true],
    ['invalid: a bad literal', '[tru]', true],
  ])('%s → %s', (_name, body, expected) => {
    expect(malformed([body])).toBe(expected);
  });

  it(`nesting deeper than ${MAX_DEPTH} stops the scan but is not called malformed`, () => {
    expect(malformed([`${'['.repeat(MAX_DEPTH + 10)}${']'.repeat(MAX_DEPTH + 10)}`])).toBe(false);
  });
});
