// YAML with locations. Policy errors must name file:line:column, so parsing keeps js-yaml's event stream (which
// carries source offsets) beside the constructed value, and looks positions up only when someone asks: a valid
// 100,000-rule file never pays for a full position map. Aliases are refused: a reviewer reading a pull request
// must see every value where it applies, not somewhere above it.

import * as jsyaml from 'js-yaml';
import type { SourceLocation } from '../errors.js';

export type YamlPath = readonly (string | number)[];

export interface ParsedYaml {
  readonly file: string;
  readonly value: unknown;
  /** Where the value at `path` starts (or its key, for `at: 'key'`); the nearest existing ancestor if absent. */
  locate(path: YamlPath, at?: 'key' | 'value'): SourceLocation;
  /** Start of each item of the sequence at `path`, in order, without building the full position map. */
  itemLocations(path: YamlPath): SourceLocation[];
}

export type ParseResult = { ok: true; parsed: ParsedYaml } | { ok: false; location: SourceLocation; message: string };

const E = jsyaml.EVENT_ID;

export function parseYaml(file: string, text: string): ParseResult {
  let events: jsyaml.Event[];
  let value: unknown;
  try {
    events = jsyaml.parseEvents(text, { filename: file, maxDepth: 32 });
    const documents = jsyaml.constructFromEvents(events, { source: text, filename: file, maxAliases: 0 });
    if (documents.length > 1) {
      const second = events.filter((e) => e.type === E.DOCUMENT)[1];
      return {
        ok: false,
        location: { file, line: lineOfDocument(text, second), column: 1 },
        message: 'a policy file holds one YAML document; split the others into their own files',
      };
    }
    value = documents[0] ?? null;
  } catch (err) {
    const e = err as { reason?: string; mark?: { line: number; column: number }; message?: string };
    const mark = e.mark ?? { line: 0, column: 0 };
    const reason = e.reason ?? e.message ?? String(err);
    const message = /alias/i.test(reason)
      ? `YAML aliases (*name) are not allowed in policy files: write the value out where it applies`
      : `YAML syntax: ${reason}`;
    return { ok: false, location: { file, line: mark.line + 1, column: mark.column + 1 }, message };
  }

  const lines = new LineIndex(text);
  let positions: Map<string, { key: number; value: number }> | undefined;
  const locationOf = (offset: number): SourceLocation => ({ file, ...lines.position(offset) });

  return {
    ok: true,
    parsed: {
      file,
      value,
      locate(path, at = 'value') {
        positions ??= buildPositionMap(events, text);
        for (let n = path.length; n >= 0; n--) {
          const hit = positions.get(pathKey(path.slice(0, n)));
          if (hit) return locationOf(at === 'key' && n === path.length && hit.key >= 0 ? hit.key : hit.value);
        }
        return { file, line: 1, column: 1 };
      },
      itemLocations(path) {
        const target = pathKey(path);
        const offsets: number[] = [];
        walk(
          events,
          text,
          (current, offset) => {
            if (
              current.length === path.length + 1 &&
              typeof current[path.length] === 'number' &&
              pathKey(current.slice(0, -1)) === target
            ) {
              offsets.push(offset);
            }
          },
          path.length + 1,
        );
        return offsets.map(locationOf);
      },
    },
  };
}

function pathKey(path: YamlPath): string {
  return path.join('\u0000');
}

function buildPositionMap(events: jsyaml.Event[], text: string): Map<string, { key: number; value: number }> {
  const map = new Map<string, { key: number; value: number }>();
  map.set('', { key: -1, value: 0 });
  walk(events, text, (path, offset, keyOffset) => {
    map.set(pathKey(path), { key: keyOffset, value: offset });
  });
  return map;
}

type Frame = { kind: 'map'; expectKey: boolean; key: string; keyOffset: number } | { kind: 'seq'; index: number };

/**
 * Visits every node with its path. `maxDepth` stops path tracking below that depth (the walk still counts
 * nesting), which keeps a rules-only pass cheap on huge files.
 */
function walk(
  events: jsyaml.Event[],
  text: string,
  visit: (path: (string | number)[], offset: number, keyOffset: number) => void,
  maxDepth = Infinity,
): void {
  const frames: Frame[] = [];
  const path: (string | number)[] = [];
  // Frames that contributed a path segment, so POP knows whether to pop one.
  const pushedSegment: boolean[] = [];
  for (const ev of events) {
    if (ev.type === E.DOCUMENT) continue;
    if (ev.type === E.POP) {
      if (frames.length === 0) continue;
      frames.pop();
      if (pushedSegment.pop()) path.pop();
      continue;
    }
    const top = frames[frames.length - 1];
    const offset = ev.type === E.SCALAR ? scalarOffset(ev) : ev.type === E.ALIAS ? ev.anchorStart - 1 : ev.start;
    if (top?.kind === 'map' && top.expectKey) {
      top.expectKey = false;
      top.key = ev.type === E.SCALAR ? jsyaml.getScalarValue(text, ev) : '?';
      top.keyOffset = offset;
      if (ev.type === E.MAPPING || ev.type === E.SEQUENCE) {
        // A complex key: track its nesting so POP stays balanced; the schema rejects the resulting key.
        frames.push(
          ev.type === E.MAPPING ? { kind: 'map', expectKey: true, key: '', keyOffset: -1 } : { kind: 'seq', index: 0 },
        );
        pushedSegment.push(false);
      }
      continue;
    }
    let keyOffset = -1;
    let segment: string | number | undefined;
    if (top?.kind === 'map') {
      segment = top.key;
      keyOffset = top.keyOffset;
      top.expectKey = true;
    } else if (top?.kind === 'seq') {
      segment = top.index++;
    }
    if (segment !== undefined) path.push(segment);
    if (path.length <= maxDepth) visit(path, offset, keyOffset);
    if (ev.type === E.MAPPING || ev.type === E.SEQUENCE) {
      frames.push(
        ev.type === E.MAPPING ? { kind: 'map', expectKey: true, key: '', keyOffset: -1 } : { kind: 'seq', index: 0 },
      );
      pushedSegment.push(segment !== undefined);
    } else if (segment !== undefined) {
      path.pop();
    }
  }
}

function scalarOffset(ev: jsyaml.ScalarEvent): number {
  const quoted = ev.style === jsyaml.SCALAR_STYLE.SINGLE_QUOTED || ev.style === jsyaml.SCALAR_STYLE.DOUBLE_QUOTED;
  return quoted ? ev.valueStart - 1 : ev.valueStart;
}

function lineOfDocument(text: string, _ev: jsyaml.Event | undefined): number {
  // Document events carry no offset; the second document starts after the first `---` that follows content.
  const lines = text.split('\n');
  let seenContent = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^---(\s|$)/.test(line) && seenContent) return i + 1;
    if (line.trim() !== '' && !line.trimStart().startsWith('#') && !line.startsWith('---')) seenContent = true;
  }
  return 1;
}

class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.starts[lo] ?? 0) + 1 };
  }
}
