// Path globs of the `paths:` field, and the path normalisation that runs before matching. Deliberately small: `*`
// matches within one segment, `**` across segments, everything else is literal. Brace and extglob syntax from
// general-purpose glob libraries would let a reviewer misread what a security rule covers.

export interface PathGlob {
  readonly text: string;
  readonly regex: RegExp;
}

/**
 * `caseInsensitive` is for deny rules: some origins (IIS, case-insensitive file systems) serve `/ADMIN` as
 * `/admin`, so a deny must catch every casing, while an allow stays exact.
 */
export function compilePathGlob(text: string, caseInsensitive = false): PathGlob | { error: string } {
  if (!text.startsWith('/')) return { error: `"${text}" must start with "/"` };
  if (/[?#]/.test(text)) return { error: `"${text}": paths match the path only; the query string is not part of it` };
  if (/\*{3,}/.test(text)) return { error: `"${text}": use "*" (one segment) or "**" (any depth), not "***"` };
  let source = '^';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '*' && text[i + 1] === '*') {
      // "/a/**" also matches "/a" itself: a rule on a subtree covers its root.
      if (text[i - 1] === '/' && i + 2 === text.length) {
        source = `${source.slice(0, -1)}(?:/.*)?`;
      } else {
        source += '.*';
      }
      i++;
    } else if (ch === '*') {
      source += '[^/]*';
    } else {
      source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return { text, regex: new RegExp(`${source}$`, caseInsensitive ? 'i' : '') };
}

const UNRESERVED = /%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE]|2[fF]|5[cC])/g;

/**
 * The path a rule is matched against: query dropped, percent-encoded unreserved characters and encoded slashes
 * decoded, backslashes read as slashes, repeated slashes collapsed, `;parameters` dropped from each segment, dot
 * segments resolved (RFC 3986 §5.2.4, §6.2.2). Origins decode all of these (Tomcat and Spring ignore `;jsessionid`
 * style parameters), so a deny on "/admin/**" must not be bypassed by "/%61dmin/x", "/a/../admin/x",
 * "//admin/x", "/admin;x/y" or "/admin%2Fx".
 */
export function normalizePath(target: string): string {
  const q = target.search(/[?#]/);
  let path = q === -1 ? target : target.slice(0, q);
  if (!path.startsWith('/')) path = `/${path}`;
  path = path
    .replace(UNRESERVED, (enc) => String.fromCharCode(parseInt(enc.slice(1), 16)))
    .replace(/\\/g, '/')
    .replace(/\/{2,}/g, '/');
  const out: string[] = [];
  const segments = path
    .split('/')
    .slice(1)
    .map((segment) => {
      const semicolon = segment.indexOf(';');
      return semicolon === -1 ? segment : segment.slice(0, semicolon);
    });
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  });
  return `/${out.join('/')}`;
}
