// Reflection, as a specification: what a request carried never comes back as a grant. Tables for the decoding
// rules, then seeded property tests with adversarial reflections: a secret (or an attacker's URL) put in the
// request re-encoded (percent, double percent, HTML entities, JSON \u escapes, upper case), split across
// parameters, echoed by the API into JSON, an HTML attribute or a Location header, embedded in a longer URL. The
// response goes through the real scanners and the real selection; no grant may carry the secret.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeLayers, MAX_REQUEST_BODY, Reflection, REFLECTION_RUN, skeleton } from '../../src/grants/reflection.js';
import { newResponseGrants, selectReference } from '../../src/grants/select.js';
import { headerReferences } from '../../src/inspect/headers.js';
import { HtmlReferenceScanner } from '../../src/inspect/html.js';
import { JsonReferenceScanner } from '../../src/inspect/json.js';
import type { Reference } from '../../src/inspect/reference.js';
import { compileWithWarnings } from './compile.js';

const SEED = 1_103_2026;

describe('decodeLayers and skeleton', () => {
  it.each<[name: string, text: string, decoded: string]>([
    ['percent', 'a%2Fb%20c', 'a/b c'],
    ['percent, twice', '%252F', '/'],
    ['UTF-8 percent sequences', '%C3%A9', 'é'],
    ['a lone percent stays', '100%', '100%'],
    ['numeric entities', '&#115;&#x65;', 'se'],
    ['named entities, with and without semicolon', '&amp;&lt;&Afr;', '&<𝔄'],
    ['JSON escapes', '\\u0073\\/\\n', 's/\n'],
    ['mixed layers', '%26%23115%3B', 's'],
  ])('%s', (_name, text, decoded) => {
    expect(decodeLayers(text)).toBe(decoded);
  });

  it.each<[name: string, text: string, skeleton: string]>([
    ['letters and digits only, case-folded', 'Ab-C_1/2', 'abc12'],
    ['fullwidth and mathematical letters fold to ASCII', 'ＳＥＣ𝔄', 'seca'],
    ['other scripts are letters too', 'Katze 猫', 'katze猫'],
  ])('skeleton: %s', (_name, text, expected) => {
    expect(skeleton(text)).toBe(expected);
  });
});

describe('Reflection', () => {
  it.each<
    [name: string, target: string, headers: Record<string, string>, body: string, host: string, reflected: boolean]
  >([
    ['host in the path', '/fetch/attacker.example/x', {}, '', 'attacker.example', true],
    ['host in the query, percent-encoded', '/s?q=attacker%2eexample', {}, '', 'attacker.example', true],
    ['host with ideographic full stops', '/s?q=attacker\u3002example', {}, '', 'attacker.example', true],
    ['host with fullwidth letters', '/s?q=ａｔｔａｃｋｅｒ.example', {}, '', 'attacker.example', true],
    [
      'IDN host in Unicode in the request, punycode in the response',
      '/s?q=bücher.example',
      {},
      '',
      'xn--bcher-kva.example',
      true,
    ],
    ['host in a header value', '/s', { referer: 'https://attacker.example/' }, '', 'attacker.example', true],
    ['host in the body as entities', '/s', {}, 'u=&#97;ttacker.example', 'attacker.example', true],
    ['an unrelated host', '/s?q=cats', { 'user-agent': 'agent/1.0' }, '{"q":"cats"}', 'cdn.example.net', false],
  ])('hostReflected: %s → %s', (_name, target, headers, body, host, reflected) => {
    const r = new Reflection(target, headers);
    r.addBody(Buffer.from(body));
    expect(r.hostReflected(host)).toBe(reflected);
  });

  it(`runs of ${REFLECTION_RUN} count, shorter ones do not; the host part of the target is not material`, () => {
    const r = new Reflection('http://api.example.com/v1/find?q=abcdefgh', {});
    expect(r.carriesRun('https://x.example/ABCDEFGH.png')).toBe(true);
    expect(r.carriesRun('https://x.example/abcdefg.png')).toBe(false);
    expect(r.carriesRun('https://cdn.example.com/')).toBe(false);
  });

  it('separators cannot hide a run: dot segments, backslashes, tabs, dashes', () => {
    const r = new Reflection('/s?q=secr/./et-da\\ta%09xyz', {});
    expect(r.carriesRun('https://x.example/secretdataxyz')).toBe(true);
  });

  it('the body is read as it streams, up to MAX_REQUEST_BODY; beyond, the reflection says it is incomplete', () => {
    const r = new Reflection('/s', {});
    r.addBody(Buffer.from('{"q":"Zq8sEcR'));
    expect(r.carriesRun('https://x.example/zq8secret')).toBe(false);
    r.addBody(Buffer.from('eT1"}'));
    expect(r.carriesRun('https://x.example/zq8secret')).toBe(true);
    expect(r.complete).toBe(true);
    r.addBody(Buffer.alloc(MAX_REQUEST_BODY));
    expect(r.complete).toBe(false);
    expect(r.bodyBytes).toBe(MAX_REQUEST_BODY + 18);
  });

  it('a UTF-8 character split across two body chunks is still one character', () => {
    const r = new Reflection('/s', {});
    const bytes = Buffer.from('x=猫猫猫猫猫猫猫猫');
    r.addBody(bytes.subarray(0, 4));
    r.addBody(bytes.subarray(4));
    expect(
      r.carriesRun('https://x.example/%E7%8C%AB%E7%8C%AB%E7%8C%AB%E7%8C%AB%E7%8C%AB%E7%8C%AB%E7%8C%AB%E7%8C%AB'),
    ).toBe(true);
  });
});

// ---- Property tests ----------------------------------------------------------------------------------------

const POLICY = `
version: 1
settings: { grants: { maxPerResponse: 1000, scope: SCOPE } }
rules:
  - { name: api, domain: api.example.com, ports: [443], inspect: [json, html], effect: allow }
`;
const urlPolicy = compileWithWarnings(POLICY.replace('SCOPE', 'url'));
const hostPolicy = compileWithWarnings(POLICY.replace('SCOPE', 'host'));
const RESPONSE_URL = 'https://api.example.com/search';

/** How the agent writes a value into the request's query. */
const requestEncodings: Record<string, (s: string) => string> = {
  raw: (s) => s.replace(/[#&+ ]/g, encodeURIComponent),
  percent: (s) => encodeURIComponent(s),
  'double percent': (s) => encodeURIComponent(encodeURIComponent(s)),
  'percent of every byte': (s) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''),
  'HTML entities': (s) => encodeURIComponent([...s].map((c) => `&#${c.codePointAt(0)};`).join('')),
  'JSON \\u escapes': (s) =>
    encodeURIComponent([...s].map((c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`).join('')),
  'upper case': (s) => encodeURIComponent(s.toUpperCase()),
};

/** How the API puts what it received into its response, and which scanner reads it. */
type Echo = (value: string) => Reference[];
const echoes: Record<string, Echo> = {
  'JSON value': (v) => scanJson(JSON.stringify({ query: v, results: [{ url: v }] })),
  'JSON, every character \\u-escaped': (v) =>
    scanJson(
      `{"u":"${[...v].map((c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`).join('')}"}`,
    ),
  'JSON text around it': (v) => scanJson(JSON.stringify({ snippet: `Results for ${v} and more` })),
  'HTML attribute, escaped': (v) => scanHtml(`<a href="${v.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}">x</a>`),
  'HTML attribute, every character an entity': (v) =>
    scanHtml(`<img src="${[...v].map((c) => `&#x${(c.codePointAt(0) as number).toString(16)};`).join('')}">`),
  'Location header': (v) => headerReferences({ location: encodeURI(v) }, RESPONSE_URL),
};

/** Where the API's reflected value sits in a URL: what the agent asked it to echo. */
const shapes: Record<string, (secret: string) => string> = {
  'the attacker URL from the issue': (s) => `http://attacker.example/steal?k=${s}`,
  'in the path of a CDN URL': (s) => `https://cdn.example.net/img/${s}.png`,
  'in a longer query': (s) => `https://cdn.example.net/a?x=1&k=pre${s}post&y=2`,
  'in a subdomain': (s) => `https://${s.toLowerCase()}.cdn.example.net/`,
  'in the fragment': (s) => `https://cdn.example.net/a#${s}`,
};

function scanJson(text: string): Reference[] {
  const scanner = new JsonReferenceScanner(RESPONSE_URL);
  return [...scanner.write(text), ...scanner.end()];
}

function scanHtml(text: string): Reference[] {
  const scanner = new HtmlReferenceScanner(RESPONSE_URL);
  return [...scanner.write(text), ...scanner.end()];
}

/** Does this URL carry REFLECTION_RUN consecutive characters of the secret, however it is encoded? */
function carries(url: string, secret: string): boolean {
  const s = skeleton(secret);
  const forms = [skeleton(url), skeleton(decodeLayers(url)), skeleton(decodeLayers(url.replace(/\//g, '\\')))];
  for (let i = 0; i + REFLECTION_RUN <= s.length; i++)
    if (forms.some((f) => f.includes(s.slice(i, i + REFLECTION_RUN)))) return true;
  return false;
}

/** The API decodes its query once, as every web framework does. */
function apiReads(query: string): string {
  return new URLSearchParams(query).get('q') ?? '';
}

const secretArb = fc.stringMatching(/^[A-Za-z0-9]{8,24}$/);
const unicodeSecretArb = fc
  .array(fc.constantFrom(...'abcXYZ019éüß猫犬'), { minLength: 8, maxLength: 16 })
  .map((cs) => cs.join(''));

describe('property: no grant carries request data', () => {
  it('whatever the encoding in the request, the echo in the response and the place in the URL (scope url)', () => {
    fc.assert(
      fc.property(
        fc.oneof(secretArb, unicodeSecretArb),
        fc.constantFrom(...Object.keys(requestEncodings)),
        fc.constantFrom(...Object.keys(echoes)),
        fc.constantFrom(...Object.keys(shapes)),
        (secret, encoding, echo, shape) => {
          const value = (shapes[shape] as (s: string) => string)(secret);
          const target = `/search?q=${(requestEncodings[encoding] as (s: string) => string)(value)}`;
          const references = (echoes[echo] as Echo)(apiReads(target.slice(target.indexOf('?') + 1)));
          const reflection = new Reflection(target, { host: 'api.example.com', accept: 'application/json' });
          const state = newResponseGrants('api.example.com', 443, { reflection });
          for (const reference of references) {
            const selection = selectReference(urlPolicy, 'agent', reference, state);
            if (selection?.kind === 'grant')
              expect(carries(reference.url, secret), `${reference.url} granted`).toBe(false);
            if (reference.host === 'attacker.example') expect(selection?.kind).not.toBe('grant');
          }
        },
      ),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('scope host: no host the request named, and no host carrying a run of it, is granted', () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.constantFrom(...Object.keys(requestEncodings)),
        fc.constantFrom(...Object.keys(echoes)),
        (secret, encoding, echo) => {
          for (const shape of ['the attacker URL from the issue', 'in a subdomain']) {
            const value = (shapes[shape] as (s: string) => string)(secret);
            const target = `/search?q=${(requestEncodings[encoding] as (s: string) => string)(value)}`;
            const references = (echoes[echo] as Echo)(apiReads(target.slice(target.indexOf('?') + 1)));
            const state = newResponseGrants('api.example.com', 443, { reflection: new Reflection(target, {}) });
            for (const reference of references) {
              const selection = selectReference(hostPolicy, 'agent', reference, state);
              if (selection?.kind === 'grant') {
                expect(reference.host).not.toBe('attacker.example');
                expect(carries(reference.host, secret)).toBe(false);
              }
            }
          }
        },
      ),
      { seed: SEED + 1, numRuns: 300 },
    );
  });

  it('split: a secret in two parameters of 8 or more characters each, joined by the API: neither half is granted', () => {
    fc.assert(
      fc.property(
        secretArb,
        secretArb,
        fc.constantFrom('/', '-', '.', '', '%2F', '/./'),
        fc.constantFrom(...Object.keys(requestEncodings)),
        (a, b, joiner, encoding) => {
          const enc = requestEncodings[encoding] as (s: string) => string;
          const target = `/search?a=${enc(a)}&b=${enc(b)}`;
          const params = new URLSearchParams(target.slice(target.indexOf('?') + 1));
          const references = scanJson(
            JSON.stringify({ url: `https://cdn.example.net/${params.get('a')}${joiner}${params.get('b')}` }),
          );
          const state = newResponseGrants('api.example.com', 443, { reflection: new Reflection(target, {}) });
          for (const reference of references) {
            const granted = selectReference(urlPolicy, 'agent', reference, state)?.kind === 'grant';
            if (granted)
              expect(carries(reference.url, a) || carries(reference.url, b), `${reference.url} granted`).toBe(false);
          }
        },
      ),
      { seed: SEED + 2, numRuns: 300 },
    );
  });

  it('a secret in the body, streamed in arbitrary chunks, echoed in JSON: never granted', () => {
    fc.assert(
      fc.property(
        secretArb,
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        (secret, cuts) => {
          const body = Buffer.from(JSON.stringify({ q: `https://cdn.example.net/${secret}` }));
          const reflection = new Reflection('/search', { 'content-type': 'application/json' });
          let at = 0;
          for (const cut of cuts) {
            reflection.addBody(body.subarray(at, at + cut));
            at += cut;
          }
          reflection.addBody(body.subarray(at));
          const references = scanJson(JSON.stringify({ echo: JSON.parse(body.toString()).q }));
          const state = newResponseGrants('api.example.com', 443, { reflection });
          expect(references.length).toBeGreaterThan(0);
          for (const reference of references)
            expect(selectReference(urlPolicy, 'agent', reference, state)?.kind).toBe('skip');
        },
      ),
      { seed: SEED + 3, numRuns: 200 },
    );
  });

  it('sanity: the scenarios do reflect (the property above is not vacuous)', () => {
    let reflected = 0;
    let total = 0;
    for (const encoding of Object.keys(requestEncodings)) {
      for (const echo of Object.keys(echoes)) {
        for (const shape of Object.keys(shapes)) {
          const secret = 'Zq8sEcReT1abc';
          const target = `/search?q=${(requestEncodings[encoding] as (s: string) => string)((shapes[shape] as (s: string) => string)(secret))}`;
          const references = (echoes[echo] as Echo)(apiReads(target.slice(target.indexOf('?') + 1)));
          total++;
          if (references.some((r) => carries(r.url, secret))) reflected++;
        }
      }
    }
    // Nearly every combination yields a reference that carries the secret (a few encodings defeat the URL parser).
    expect(reflected / total).toBeGreaterThan(0.7);
  });
});
