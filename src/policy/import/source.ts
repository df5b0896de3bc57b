// Reading a source file for an importer: YAML (and JSON, which the same parser reads) with the line of every
// value, so an error names the line in the operator's file, not in leash's output.

import type { SourceLocation } from '../../errors.js';
import { parseYaml, type ParsedYaml, type YamlPath } from '../yaml.js';
import type { ImportIssue } from './model.js';

export interface SourceDocument {
  readonly value: unknown;
  at(path: YamlPath, key?: boolean): SourceLocation;
  issue(path: YamlPath, message: string): ImportIssue;
}

export function readYamlSource(
  file: string,
  text: string,
): { ok: true; doc: SourceDocument } | { ok: false; issue: ImportIssue } {
  const parsed = parseYaml(file, text);
  if (!parsed.ok) return { ok: false, issue: { location: parsed.location, message: parsed.message } };
  return { ok: true, doc: documentOf(parsed.parsed) };
}

/** JSON.parse for the value (what sandbox-runtime itself does); the YAML parser only for the lines of values. */
export function readJsonSource(
  file: string,
  text: string,
): { ok: true; doc: SourceDocument } | { ok: false; issue: ImportIssue } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const offset = jsonErrorOffset(message, text);
    const location = offset === undefined ? { file, line: 1, column: 1 } : { file, ...lineColumn(text, offset) };
    const reason = message
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/, (\.\.\.)?".*" is not valid JSON$/s, '');
    return { ok: false, issue: { location, message: `JSON syntax: ${reason}` } };
  }
  const parsed = parseYaml(file, text);
  const doc: SourceDocument = parsed.ok
    ? { ...documentOf(parsed.parsed), value }
    : {
        value,
        at: () => ({ file, line: 1, column: 1 }),
        issue: (_path, message) => ({ location: { file, line: 1, column: 1 }, message }),
      };
  return { ok: true, doc };
}

function documentOf(parsed: ParsedYaml): SourceDocument {
  return {
    value: parsed.value,
    at: (path, key) => parsed.locate(path, key ? 'key' : 'value'),
    issue: (path, message) => ({ location: parsed.locate(path), message }),
  };
}

/**
 * Where JSON.parse stopped. V8 says "at position N", or for an unexpected token quotes the text around it
 * (`Unexpected token ']', ..."ple",]..." is not valid JSON`), which is found in the source; at the end of the input
 * it is the end.
 */
function jsonErrorOffset(message: string, text: string): number | undefined {
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position !== undefined) return Number(position);
  if (/end of JSON input/.test(message)) return text.length;
  const quoted = /^Unexpected token '(.)', (\.\.\.)?"(.*?)(\.\.\.)?" is not valid JSON$/s.exec(message);
  if (!quoted) return undefined;
  const [, token = '', , around = ''] = quoted;
  const at = text.indexOf(around);
  return at === -1 ? undefined : at + around.indexOf(token);
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** A value of the source as one short line, for a comment. */
export function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
