// Patterns over where a reference was found, for `inspect.grant.paths`: an operator narrows what a rule may grant
// to the places a trusted API puts links it means (`$.results[*].image`), so a URL an attacker got into a free-text
// field (`$.results[*].snippet`) is never granted. PURE. Validating a pattern returns its matcher, so what
// `leash check` accepts is exactly what is enforced.
//
// The patterns are spelled like the `found` field of the audit records (json.ts, html.ts, headers.ts):
//  - a JSON path: `$`, `.key`, `["key"]`, `[3]`, `[*]` / `.*` (any one member or item), `..` (any depth, then the
//    next segment: `$..image`);
//  - an HTML element and attribute: `img[src]`, `*[href]`, `meta[refresh]`, optionally prefixed `html `;
//  - a response header: `header Location`, `header Content-Location`, `header Link`.

export type FoundPattern = { readonly text: string; readonly matches: (found: string) => boolean };
export type FoundPatternResult = { ok: true; pattern: FoundPattern } | { ok: false; message: string };

type Segment = { kind: 'key'; name: string } | { kind: 'index'; index: number } | { kind: 'any' } | { kind: 'descend' };

const HTML_ATTRIBUTES: ReadonlySet<string> = new Set([
  'href',
  'src',
  'srcset',
  'poster',
  'data-src',
  'action',
  'formaction',
  'cite',
  'refresh',
]);
const HEADERS: ReadonlyMap<string, string> = new Map([
  ['location', 'Location'],
  ['content-location', 'Content-Location'],
  ['link', 'Link'],
]);
const MAX_SEGMENTS = 64;

export function compileFoundPattern(text: string): FoundPatternResult {
  const trimmed = text.trim();
  if (trimmed.startsWith('$')) {
    const segments = parseJsonPath(trimmed, true);
    if (typeof segments === 'string') return { ok: false, message: `"${text}": ${segments}` };
    if (segments.length > MAX_SEGMENTS) return { ok: false, message: `"${text}": more than ${MAX_SEGMENTS} segments` };
    return { ok: true, pattern: { text, matches: (found) => found.startsWith('$') && matchJson(segments, found) } };
  }
  const header = /^header\s+([A-Za-z-]+)$/i.exec(trimmed);
  if (header) {
    const name = HEADERS.get((header[1] as string).toLowerCase());
    if (!name)
      return {
        ok: false,
        message: `"${text}": references are read only from the Location, Content-Location and Link headers`,
      };
    const found = `header ${name}`;
    return { ok: true, pattern: { text, matches: (f) => f === found } };
  }
  const html = /^(?:html\s+)?([a-z][a-z0-9-]*|\*)\[([a-z-]+)\]$/i.exec(trimmed);
  if (html) {
    const tag = (html[1] as string).toLowerCase();
    const attribute = (html[2] as string).toLowerCase();
    if (!HTML_ATTRIBUTES.has(attribute))
      return {
        ok: false,
        message: `"${text}": references are read only from the attributes ${[...HTML_ATTRIBUTES].join(', ')}`,
      };
    if (attribute === 'refresh' && tag !== 'meta' && tag !== '*')
      return { ok: false, message: `"${text}": refresh is read only from <meta http-equiv=refresh>` };
    const suffix = `[${attribute}]`;
    const exact = `html ${tag}${suffix}`;
    const anyTag = (f: string) =>
      f.startsWith('html ') && f.endsWith(suffix) && !f.slice(5, -suffix.length).includes('[');
    return { ok: true, pattern: { text, matches: (f) => (tag === '*' ? anyTag(f) : f === exact) } };
  }
  return {
    ok: false,
    message: `"${text}" is not a JSON path ($.results[*].image), an HTML element and attribute (img[src]) or a header (header Location)`,
  };
}

/**
 * The segments of a JSON path. As a pattern (`pattern` true) it may use `*` and `..`; a `found` value never does.
 * Returns an error message instead when it does not parse.
 */
function parseJsonPath(text: string, pattern: boolean): Segment[] | string {
  const segments: Segment[] = [];
  let i = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '.') {
      if (text[i + 1] === '.') {
        if (!pattern) return 'unexpected ".."';
        segments.push({ kind: 'descend' });
        i += 2;
        // `..[0]` and `..["k"]` go on with a bracket; `..name` and `..*` with a name.
        if (text[i] === '[') continue;
      } else {
        i++;
      }
      if (text[i] === '*' && pattern) {
        segments.push({ kind: 'any' });
        i++;
        continue;
      }
      const m = /^[A-Za-z_$][\w$-]*/.exec(text.slice(i));
      if (!m) return `expected a member name at position ${i + 1}`;
      segments.push({ kind: 'key', name: m[0] });
      i += m[0].length;
    } else if (c === '[') {
      const close = bracketEnd(text, i);
      if (close === -1) return `unclosed "[" at position ${i + 1}`;
      const inner = text.slice(i + 1, close).trim();
      if (inner === '*' && pattern) segments.push({ kind: 'any' });
      else if (/^\d+$/.test(inner)) segments.push({ kind: 'index', index: Number(inner) });
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) {
        try {
          segments.push({ kind: 'key', name: JSON.parse(inner) as string });
        } catch {
          return `invalid quoted name ${inner}`;
        }
      } else if (pattern && /^'[^']*'$/.test(inner)) segments.push({ kind: 'key', name: inner.slice(1, -1) });
      else return `"[${inner}]" is neither an index, "*" nor a quoted name`;
      i = close + 1;
    } else {
      return `unexpected "${c}" at position ${i + 1}`;
    }
  }
  if (segments[segments.length - 1]?.kind === 'descend') return '".." must be followed by a segment';
  return segments;
}

function bracketEnd(text: string, open: number): number {
  let quote: string | undefined;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ']') return i;
  }
  return -1;
}

function matchJson(pattern: readonly Segment[], found: string): boolean {
  const path = parseJsonPath(found, false);
  if (typeof path === 'string') return false;
  const p = pattern.length;
  const f = path.length;
  // memo[pi * (f + 1) + fi]: 0 unknown, 1 no, 2 yes. O(p × f) whatever the `..` count.
  const memo = new Uint8Array((p + 1) * (f + 1));
  const match = (pi: number, fi: number): boolean => {
    const slot = pi * (f + 1) + fi;
    if (memo[slot] !== 0) return memo[slot] === 2;
    let result: boolean;
    if (pi === p) result = fi === f;
    else {
      const seg = pattern[pi] as Segment;
      if (seg.kind === 'descend') result = match(pi + 1, fi) || (fi < f && match(pi, fi + 1));
      else result = fi < f && segmentMatches(seg, path[fi] as Segment) && match(pi + 1, fi + 1);
    }
    memo[slot] = result ? 2 : 1;
    return result;
  };
  return match(0, 0);
}

function segmentMatches(pattern: Segment, found: Segment): boolean {
  switch (pattern.kind) {
    case 'any':
      return true;
    case 'key':
      return found.kind === 'key' && found.name === pattern.name;
    case 'index':
      return found.kind === 'index' && found.index === pattern.index;
    default:
      return false;
  }
}
