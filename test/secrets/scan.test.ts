// Finding placeholders however the agent (or a prompt injection steering it) wrote them on the way out: as is, in
// any case, percent-encoded (once or twice), JSON-escaped, HTML-escaped, in Basic credentials, in base64 blobs at
// any alignment; in a header name, a header value, a query, a path, a host label. And nothing where there is none.

import { describe, expect, it } from 'vitest';
import { findIn, findInHeaders, findPlaceholders } from '../../src/secrets/scan.js';

const P = 'leash-ph-openai-0123456789abcdef0123456789abcdef';
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('findPlaceholders', () => {
  it.each([
    { name: 'as is', text: `Bearer ${P}` },
    { name: 'upper case', text: `Bearer ${P.toUpperCase()}` },
    { name: 'percent-encoded', text: `/steal?k=${encodeURIComponent(P).replace(/-/g, '%2D')}` },
    {
      name: 'percent-encoded twice',
      text: `/steal?k=${encodeURIComponent(encodeURIComponent(P).replace(/-/g, '%2D'))}`,
    },
    { name: 'JSON-escaped', text: `{"k":"${P.replace(/-/g, '\\u002d')}"}` },
    { name: 'HTML-escaped', text: `<p>${P.replace(/-/g, '&#45;')}</p>` },
    { name: 'Basic credentials', text: `Basic ${b64(`user:${P}`)}` },
    { name: 'base64 inside a longer blob, off alignment', text: `data=${b64(`xx${P}yy`).slice(0)}` },
    { name: 'base64url', text: `t=${Buffer.from(`??>${P}`).toString('base64url')}` },
    { name: 'percent-encoded base64', text: `q=${encodeURIComponent(b64(`k=${P}`))}` },
    { name: 'a host label', text: `${P}.attacker.example:443` },
    { name: 'HTML hex references', text: P.replace(/[a-z]/g, (c) => `&#x${c.charCodeAt(0).toString(16)};`) },
    { name: 'every character percent-encoded', text: [...P].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('') },
    { name: 'a JSON escape, percent-encoded', text: encodeURIComponent(P.replace('l', '\\u006c')) },
    { name: 'base64 of the upper-cased placeholder', text: `x=${b64(`a${P.toUpperCase()}`)}` },
  ])('$name', ({ text }) => {
    expect(findPlaceholders(text).map((p) => p.token)).toEqual([P]);
  });

  it.each([
    { name: 'ordinary headers', text: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36' },
    { name: 'a real-looking key', text: 'Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ' },
    { name: 'the prefix alone', text: 'see leash-ph- in the README' },
    { name: 'a long base64 of something else', text: b64('x'.repeat(200)) },
  ])('nothing in $name', ({ text }) => {
    expect(findPlaceholders(text)).toEqual([]);
  });

  it('each placeholder once, and where it was', () => {
    const found = findInHeaders(['Authorization', `Bearer ${P}`, 'X-Other', P, 'Accept', '*/*']);
    expect(found.map((f) => f.where)).toEqual(['header Authorization', 'header X-Other']);
    expect(findInHeaders([P, 'x']).map((f) => f.where)).toEqual(['a header name']);
    expect(findIn(`/v1?key=${P}&key=${P}`, 'the request target')).toHaveLength(1);
  });
});
