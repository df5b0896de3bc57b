// References in response headers: a redirect or a Link from a trusted API names a host just as a body does.

import { describe, expect, it } from 'vitest';
import { headerReferences, linkTargets, type ResponseHeaders } from '../../src/inspect/headers.js';

const RESPONSE = 'https://api.example.com/v1/search?q=x';

describe('headerReferences', () => {
  it.each<[name: string, headers: ResponseHeaders, found: [where: string, url: string][]]>([
    [
      'Location, absolute',
      { location: 'https://cdn.example.com/a.png' },
      [['header Location', 'https://cdn.example.com/a.png']],
    ],
    [
      'Location, relative to the response',
      { location: '/v2/search?q=x' },
      [['header Location', 'https://api.example.com/v2/search?q=x']],
    ],
    [
      'Location, scheme-relative',
      { location: '//cdn.example.com/a' },
      [['header Location', 'https://cdn.example.com/a']],
    ],
    [
      'Location, header name in any case',
      { Location: 'https://cdn.example.com/' },
      [['header Location', 'https://cdn.example.com/']],
    ],
    [
      'Location with surrounding whitespace',
      { location: '  https://cdn.example.com/  ' },
      [['header Location', 'https://cdn.example.com/']],
    ],
    ['Location to another scheme', { location: 'ftp://files.example.com/' }, []],
    [
      'Content-Location',
      { 'content-location': 'https://mirror.example.com/doc.json' },
      [['header Content-Location', 'https://mirror.example.com/doc.json']],
    ],
    [
      'Link, one value',
      { link: '<https://api.example.com/v1/search?page=2>; rel="next"' },
      [['header Link', 'https://api.example.com/v1/search?page=2']],
    ],
    [
      'Link, several values in one field',
      {
        link: '<https://cdn.example.com/style.css>; rel=preload; as=style, </page/2>; rel="next", <https://fonts.example.net/f.woff2>; rel=preload',
      },
      [
        ['header Link', 'https://cdn.example.com/style.css'],
        ['header Link', 'https://api.example.com/page/2'],
        ['header Link', 'https://fonts.example.net/f.woff2'],
      ],
    ],
    [
      'Link, several fields (an array)',
      { link: ['<https://a.example/>; rel=a', '<https://b.example/>; rel=b'] },
      [
        ['header Link', 'https://a.example/'],
        ['header Link', 'https://b.example/'],
      ],
    ],
    [
      'Link, a comma and a < inside a quoted parameter do not start a link',
      { link: '<https://a.example/>; title="x, <https://not.example/>", <https://b.example/>; rel=next' },
      [
        ['header Link', 'https://a.example/'],
        ['header Link', 'https://b.example/'],
      ],
    ],
    [
      'Link, the anchor parameter is not a target',
      { link: '<https://a.example/>; anchor="https://anchor.example/"' },
      [['header Link', 'https://a.example/']],
    ],
    [
      'headers that carry no references',
      { 'content-type': 'text/html', server: 'https://not.example/', refresh: '0; url=https://no.example/' },
      [],
    ],
    ['an absent header', { location: undefined }, []],
    [
      'all three together, on any status',
      { location: 'https://l.example/', 'content-location': '/c', link: '<https://k.example/>' },
      [
        ['header Location', 'https://l.example/'],
        ['header Content-Location', 'https://api.example.com/c'],
        ['header Link', 'https://k.example/'],
      ],
    ],
  ])('%s', (_name, headers, found) => {
    expect(headerReferences(headers, RESPONSE).map((r) => [r.found, r.url])).toEqual(found);
  });

  it('gives references normalised as the policy matches them', () => {
    expect(headerReferences({ location: 'HTTP://BÜCHER.example:8080/x' }, RESPONSE)).toEqual([
      {
        url: 'http://xn--bcher-kva.example:8080/x',
        scheme: 'http',
        host: 'xn--bcher-kva.example',
        hostKind: 'name',
        port: 8080,
        found: 'header Location',
      },
    ]);
  });

  it('keeps IP literals, so that the caller can refuse them', () => {
    expect(headerReferences({ location: 'http://169.254.169.254/latest/meta-data/' }, RESPONSE)).toMatchObject([
      { host: '169.254.169.254', hostKind: 'ipv4' },
    ]);
  });
});

describe('linkTargets (RFC 8288 §3)', () => {
  it.each<[name: string, value: string, targets: string[]]>([
    ['empty', '', []],
    ['no parameters', '<https://a.example/>', ['https://a.example/']],
    ['spaces around', '  < https://a.example/ > ; rel=next ', ['https://a.example/']],
    [
      'escaped quote inside a quoted parameter',
      '<https://a.example/>; title="a \\", <https://x/>", <https://b.example/>',
      ['https://a.example/', 'https://b.example/'],
    ],
    [
      'a link-value without <...> is skipped',
      'https://bare.example/; rel=next, <https://b.example/>',
      ['https://b.example/'],
    ],
    ['an unclosed < ends the field', '<https://a.example/>, <https://unclosed.example/', ['https://a.example/']],
  ])('%s', (_name, value, targets) => {
    expect(linkTargets(value)).toEqual(targets);
  });
});
