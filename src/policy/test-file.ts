// Policy test files (`leash test`): a YAML list of cases, each a request (`GET https://api.openai.com/v1/models`,
// `CONNECT host:443`), optionally an agent and a time, and what the policy must decide (`allow` / `deny`, optionally
// the rule and the reason). Parsed with the policy's own YAML reader, so every error names file:line:column and
// aliases are refused as in policy files; checked against policy-test.schema.json (which editors use too), then
// each request line and time. A case that contradicts itself (`expect: allow` with `reason: no_rule`) is refused
// here: it could never pass, and a test that cannot pass hides the one that should.
// PURE: the caller reads the file and hands over its text.

import type { PolicyIssue, SourceLocation } from '../errors.js';
import type { PolicyReason } from './evaluate.js';
import type { Effect } from './rule.js';
import { parseRequestText, type RequestLine } from './request-line.js';
import schema from './policy-test.schema.json' with { type: 'json' };
import { compileSchema, fieldName, schemaIssues } from './schema.js';
import { parseYaml, type YamlPath } from './yaml.js';

export const POLICY_TEST_SCHEMA = schema;

const validateTestFile = compileSchema(schema);

export interface PolicyTestCase {
  /** Where the case starts: what a failure names. */
  readonly location: SourceLocation;
  readonly name: string | undefined;
  /** As written. */
  readonly request: string;
  readonly line: RequestLine;
  readonly agent: string | undefined;
  /** ISO 8601, as written. */
  readonly time: string | undefined;
  readonly expect: Effect;
  readonly rule: string | undefined;
  readonly reason: PolicyReason | undefined;
}

export interface ParsedTestFile {
  readonly file: string;
  /** Empty when there are issues: a file with an error runs no case. */
  readonly cases: readonly PolicyTestCase[];
  readonly issues: readonly PolicyIssue[];
}

interface RawCase {
  name?: string;
  request: string;
  agent?: string;
  time?: string;
  expect: Effect;
  rule?: string;
  reason?: PolicyReason;
}

const ALLOW_REASONS: ReadonlySet<string> = new Set(['allowed_by_rule', 'intercepted']);
// RFC 3339 date-time: a date, a time, an offset. Without the offset a time means different instants on different
// machines, and a test must mean one thing.
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

export function parseTestFile(file: string, text: string): ParsedTestFile {
  const result = parseYaml(file, text);
  if (!result.ok)
    return {
      file,
      cases: [],
      issues: [{ severity: 'error', location: result.location, field: '(file)', message: result.message }],
    };
  const parsed = result.parsed;
  const structural = schemaIssues(validateTestFile, parsed);
  if (structural.length > 0) return { file, cases: [], issues: structural };

  const issues: PolicyIssue[] = [];
  const fail = (path: YamlPath, message: string) =>
    issues.push({ severity: 'error', location: parsed.locate(path), field: fieldName(path), message });
  const raws = parsed.value as RawCase[];
  const starts = parsed.itemLocations([]);
  const cases: PolicyTestCase[] = [];
  raws.forEach((raw, i) => {
    const request = parseRequestText(raw.request, raw.agent);
    if (!request.ok) fail([i, 'request'], request.message);
    if (raw.time !== undefined && (!TIME.test(raw.time) || Number.isNaN(Date.parse(raw.time)) || !realDate(raw.time))) {
      fail(
        [i, 'time'],
        `"${raw.time.slice(0, 40)}" is not an ISO 8601 time with an offset; write it as 2026-11-22T09:00:00Z`,
      );
    }
    if (raw.reason !== undefined && ALLOW_REASONS.has(raw.reason) !== (raw.expect === 'allow')) {
      fail(
        [i, 'reason'],
        `${raw.reason} is the reason of ${ALLOW_REASONS.has(raw.reason) ? 'an allow' : 'a deny'}, and the case expects ${raw.expect}; the case could never pass`,
      );
    }
    if (!request.ok) return;
    cases.push({
      location: starts[i] ?? parsed.locate([i]),
      name: raw.name,
      request: raw.request.trim().replace(/\s+/, ' '),
      line: request.line,
      agent: raw.agent,
      time: raw.time,
      expect: raw.expect,
      rule: raw.rule,
      reason: raw.reason,
    });
  });
  return issues.length > 0 ? { file, cases: [], issues } : { file, cases, issues };
}

/** Date.parse rolls 2026-02-30 over to 2 March: the day must exist in its month. */
function realDate(time: string): boolean {
  const [year, month, day] = time.slice(0, 10).split('-').map(Number) as [number, number, number];
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}
