// URL extraction: each row is text a trusted API might return, and the references leash would take from it. Hosts
// come out exactly as normalizeHost spells them, because that is what the policy and the grants store match.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeHost, type HostKind } from '../../src/policy/host.js';
import { findUrls, MAX_URL_LENGTH, referencesInText, resolveReference } from '../../src/inspect/urls.js';

const BASE = 'https://api.example.com/v1/search?q=x';

describe('findUrls: absolute http(s) URLs in free text', () => {
  it.each<[name: string, text: string, urls: string[]]>([
    ['the whole text', 'https://cdn.example.com/a.png', ['https://cdn.example.com/a.png']],
    ['inside a sentence', 'See https://cdn.example.com/a.png for details', ['https://cdn.example.com/a.png']],
    ['trailing full stop is punctuation', 'Read https://example.org/page.', ['https://example.org/page']],
    [
      'trailing comma, semicolon, colon, !, ?',
      'a https://a.example/x, b https://b.example/y; c https://c.example/z: d https://d.example/!?',
      ['https://a.example/x', 'https://b.example/y', 'https://c.example/z', 'https://d.example/'],
    ],
    ['in parentheses', '(see https://example.org/x)', ['https://example.org/x']],
    [
      'balanced parentheses are part of it',
      'https://en.wikipedia.org/wiki/Foo_(bar)',
      ['https://en.wikipedia.org/wiki/Foo_(bar)'],
    ],
    ['in brackets', '[https://example.org/x]', ['https://example.org/x']],
    ['in angle brackets', '<https://example.org/x>', ['https://example.org/x']],
    ['in single quotes', "'https://example.org/x'", ['https://example.org/x']],
    ['markdown link', '[docs](https://docs.example.com/start)', ['https://docs.example.com/start']],
    ['several on one line', 'https://a.example/ and http://b.example/', ['https://a.example/', 'http://b.example/']],
    ['separated by a comma only', 'https://a.example,https://b.example', ['https://a.example/', 'https://b.example/']],
    [
      'one inside another (a redirector)',
      'https://r.example/?to=https://t.example/x',
      ['https://r.example/?to=https://t.example/x', 'https://t.example/x'],
    ],
    ['after a newline and a tab', 'x\n\thttps://example.org/x', ['https://example.org/x']],
    ['glued to a word before it', 'url:https://example.org/x', ['https://example.org/x']],
    ['upper-case scheme', 'HTTPS://EXAMPLE.ORG/Path', ['https://example.org/Path']],
    ['query and fragment kept', 'https://example.org/a?b=c&d=e#f', ['https://example.org/a?b=c&d=e#f']],
    ['explicit port', 'http://example.org:8080/x', ['http://example.org:8080/x']],
    ['default port dropped from the href', 'https://example.org:443/x', ['https://example.org/x']],
    ['userinfo does not hide the host', 'https://user:pw@example.org/x', ['https://user:pw@example.org/x']],
    ['CJK full stop and bracket end it', '見る「https://example.org/x」。', ['https://example.org/x']],
    ['no-break space ends it', 'https://example.org/x\u00a0next', ['https://example.org/x']],
    [
      'other schemes are not references',
      'ftp://example.org/ mailto:a@example.org javascript:alert(1) data:text/plain,x',
      [],
    ],
    ['a scheme and nothing else', 'https:// and http://', []],
    ['a host that cannot be one', 'https://exa_mple..com/ https://-bad-.example/', []],
    ['no URL at all', 'just words // and a comment', []],
    ['scheme-relative needs a base', '//cdn.example.com/a.png', []],
  ])('%s', (_name, text, urls) => {
    expect(findUrls(text).map((u) => u.url)).toEqual(urls);
  });

  it.each<[name: string, text: string, urls: string[]]>([
    ['the whole text', '//cdn.example.com/a.png', ['https://cdn.example.com/a.png']],
    ['after whitespace', 'img: //cdn.example.com/a.png', ['https://cdn.example.com/a.png']],
    ['after a quote or a parenthesis', 'url("//cdn.example.com/a.png")', ['https://cdn.example.com/a.png']],
    ['not inside a path', 'a/b//c.example', []],
    ['not a comment', 'x // TODO', []],
  ])('scheme-relative with a base, %s', (_name, text, urls) => {
    expect(findUrls(text, BASE).map((u) => u.url)).toEqual(urls);
  });

  it('reports where each URL sits in the text', () => {
    const text = 'go to https://example.org/x. Then';
    const [url] = findUrls(text);
    expect(url).toMatchObject({ index: 6, end: 27 });
    expect(text.slice(url?.index, url?.end)).toBe('https://example.org/x');
  });

  it(`cuts a URL at ${MAX_URL_LENGTH} characters, keeping its host`, () => {
    const [url] = findUrls(`https://long.example/${'a'.repeat(2 * MAX_URL_LENGTH)}`);
    expect(url?.host).toBe('long.example');
    expect(url?.url.length).toBe(MAX_URL_LENGTH);
  });
});

describe('hosts are normalised as the policy normalises them', () => {
  it.each<[name: string, text: string, host: string, kind: HostKind, port: number]>([
    ['upper case', 'https://CDN.Example.COM/x', 'cdn.example.com', 'name', 443],
    ['trailing dot', 'https://cdn.example.com./x', 'cdn.example.com', 'name', 443],
    ['IDN to punycode', 'https://bücher.example/x', 'xn--bcher-kva.example', 'name', 443],
    ['IDN upper case', 'https://BÜCHER.example/x', 'xn--bcher-kva.example', 'name', 443],
    ['full-width letters', 'https://ｅｘａｍｐｌｅ.com/x', 'example.com', 'name', 443],
    ['http default port', 'http://example.com/x', 'example.com', 'name', 80],
    ['explicit port', 'https://example.com:8443/x', 'example.com', 'name', 8443],
    ['IPv4 kept, as an IP literal', 'http://93.184.216.34/x', '93.184.216.34', 'ipv4', 80],
    ['IPv4 in hex, canonical', 'http://0x7f.1/x', '127.0.0.1', 'ipv4', 80],
    ['IPv4 as an integer, canonical', 'http://2852039166/latest/meta-data', '169.254.169.254', 'ipv4', 80],
    ['IPv6 kept, as an IP literal', 'http://[2001:DB8::1]:8080/x', '2001:db8::1', 'ipv6', 8080],
    ['IPv4-mapped IPv6 is IPv4', 'http://[::ffff:7f00:1]/x', '127.0.0.1', 'ipv4', 80],
  ])('%s: %s → %s (%s) port %i', (_name, text, host, kind, port) => {
    const [url] = findUrls(text);
    expect(url).toMatchObject({ host, hostKind: kind, port });
  });

  it('a seeded property: every spelling of a host yields the host normalizeHost gives', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9]{0,9}$/);
    fc.assert(
      fc.property(
        fc.array(label, { minLength: 1, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.boolean(),
        (labels, upper, dot) => {
          const name = `${labels.join('.')}.example`;
          const spelled =
            [...name].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join('') + (dot ? '.' : '');
          const policy = normalizeHost(spelled);
          const [url] = findUrls(`see https://${spelled}/path.`);
          expect(policy.ok && url?.host).toBe(name);
        },
      ),
      { seed: 5, numRuns: 300 },
    );
  });
});

describe('resolveReference', () => {
  it.each<[name: string, raw: string, base: string, url: string | undefined]>([
    ['absolute', 'https://cdn.example.com/a.png', BASE, 'https://cdn.example.com/a.png'],
    ['root-relative', '/images/a.png', BASE, 'https://api.example.com/images/a.png'],
    ['path-relative', 'a.png', 'https://api.example.com/v1/search', 'https://api.example.com/v1/a.png'],
    ['dot segments', '../a.png', 'https://api.example.com/v1/x/y', 'https://api.example.com/v1/a.png'],
    [
      'scheme-relative takes the base scheme',
      '//cdn.example.com/a.png',
      'http://api.example.com/',
      'http://cdn.example.com/a.png',
    ],
    ['query only', '?page=2', BASE, 'https://api.example.com/v1/search?page=2'],
    ['surrounding whitespace is ignored (WHATWG)', '  https://cdn.example.com/a \n', BASE, 'https://cdn.example.com/a'],
    ['a tab inside is removed (WHATWG)', 'https://cdn.exa\tmple.com/', BASE, 'https://cdn.example.com/'],
    ['http: with another host and no slashes (WHATWG)', 'http:cdn.example.com', BASE, 'http://cdn.example.com/'],
    ['backslashes are slashes in http(s) (WHATWG)', 'https:\\\\cdn.example.com\\a', BASE, 'https://cdn.example.com/a'],
    ['absolute with an unparsable base', 'https://cdn.example.com/', 'not a url', 'https://cdn.example.com/'],
    ['relative with an unparsable base', '/a', 'not a url', undefined],
    ['data: URL', 'data:image/png;base64,iVBORw0KGgo=', BASE, undefined],
    ['javascript: URL', 'javascript:alert(1)', BASE, undefined],
    ['mailto: URL', 'mailto:a@example.com', BASE, undefined],
    ['file: URL', 'file:///etc/passwd', BASE, undefined],
    ['a host the policy would refuse', 'https://a..b/', BASE, undefined],
    ['port 0', 'http://example.com:0/', BASE, undefined],
    ['port out of range', 'http://example.com:70000/', BASE, undefined],
    ['empty', '', BASE, 'https://api.example.com/v1/search?q=x'],
  ])('%s: %s', (_name, raw, base, url) => {
    expect(resolveReference(raw, base, 'here')?.url).toBe(url);
  });

  it('returns the whole reference, named where it was found', () => {
    expect(resolveReference('//BÜCHER.example:8443/x', 'https://api.example.com/', 'html img[src]')).toEqual({
      url: 'https://xn--bcher-kva.example:8443/x',
      scheme: 'https',
      host: 'xn--bcher-kva.example',
      hostKind: 'name',
      port: 8443,
      found: 'html img[src]',
    });
  });
});

describe('referencesInText', () => {
  it('gives each URL as a reference at the given location', () => {
    expect(referencesInText('a https://x.example/1 b http://y.example:81/2', undefined, '$.text')).toEqual([
      { url: 'https://x.example/1', scheme: 'https', host: 'x.example', hostKind: 'name', port: 443, found: '$.text' },
      { url: 'http://y.example:81/2', scheme: 'http', host: 'y.example', hostKind: 'name', port: 81, found: '$.text' },
    ]);
  });
});

describe('a control byte in or after a URL: no part of it is a reference (issue 19 §8)', () => {
  const controls = ['\u0000', '\u0001', '\u0008', '\u000b', '\u001b', '\u001f', '\u007f'];
  it.each(controls.map((c) => [JSON.stringify(c), c]))('%s in the host, in text and in an attribute', (_name, c) => {
    const url = `http://allowed.example${c}.attacker.example/x`;
    expect(findUrls(`see ${url} now`, BASE)).toEqual([]);
    expect(resolveReference(url, BASE, 'html a[href]')).toBeUndefined();
  });

  it.each(controls.map((c) => [JSON.stringify(c), c]))('%s right after the host, or in the path', (_name, c) => {
    expect(findUrls(`http://attacker.example${c}`, BASE)).toEqual([]);
    expect(findUrls(`http://attacker.example/a${c}b`, BASE)).toEqual([]);
    expect(resolveReference(`http://attacker.example${c}`, BASE, 'header Location')).toBeUndefined();
    expect(resolveReference(`${c}http://attacker.example/`, BASE, 'header Location')).toBeUndefined();
  });

  it('a C1 control in a host does not parse at all', () => {
    expect(findUrls('http://allowed.example\u0085.attacker.example/')).toEqual([]);
  });

  it('whitespace still separates words: a URL followed by a newline or a tab is found', () => {
    expect(findUrls('https://a.example/x\nhttps://b.example/\tend').map((u) => u.url)).toEqual([
      'https://a.example/x',
      'https://b.example/',
    ]);
  });

  it('a URL after the control byte is found on its own', () => {
    expect(findUrls('http://a.example\u0000 https://b.example/').map((u) => u.url)).toEqual(['https://b.example/']);
  });
});
