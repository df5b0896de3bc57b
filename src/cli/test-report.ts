// How `leash test` prints its results: for a person, one line per failure (file:line, the case, the expectation,
// what the policy decided, the rule trace) and a closing `N passed, N failed`; for CI, JUnit XML, which every CI
// system turns into a test report. Test files and policies come from pull requests, so every string is made
// harmless first: control characters and bidi overrides become visible escapes (terminalSafe), and XML gets only
// characters XML 1.0 allows, escaped (entities' encodeXML), so a hostile request line can neither repaint the
// reviewer's terminal nor break the report a CI system parses.
// PURE: no I/O.

import { encodeXML } from 'entities';
import { terminalSafe } from '../audit/format.js';
import type { TraceEntry } from '../policy/explain.js';
import { caseName, describeDecision, type CaseResult, type TestRun } from '../policy/test-cases.js';

/** Lines for a terminal or a log: each failure, then the summary. */
export function testText(run: TestRun): string[] {
  const lines = run.results.filter((r) => !r.passed).map(failureLine);
  lines.push(`${run.passed} passed, ${run.failed} failed`);
  return lines;
}

/** One line: where, which case, what was expected and decided, why (the message), and the rules that took part. */
export function failureLine(result: CaseResult): string {
  const c = result.case;
  const where = `${c.location.file}:${c.location.line}`;
  // A mismatch already says what was decided; a problem with the case says it here.
  const decided = result.caseProblem
    ? `decided: ${describeDecision(result.decided)}: ${result.decided.message}`
    : result.decided.message;
  const parts = [`${where}: ${caseName(c)}: ${result.failure ?? ''}`, decided];
  const tunnel = tunnelNote(result);
  if (tunnel) parts.push(tunnel);
  parts.push(`trace: ${traceText(result.trace)}`);
  return terminalSafe(parts.join('; '));
}

function tunnelNote(result: CaseResult): string | undefined {
  const tunnel = result.tunnel;
  const inner = result.case.line.inner;
  if (!tunnel || !inner) return undefined;
  // A denied CONNECT says so in its message; an allowed one is where a case about the request inside goes wrong.
  if (!result.intercepted && tunnel.effect === 'deny') return undefined;
  if (!result.intercepted)
    return `decided on the CONNECT: HTTPS travels in a tunnel, and leash sees inside only when it intercepts (this tunnel is spliced: ${tunnel.reason})`;
  return `the CONNECT is intercepted (rule ${tunnel.rule ?? '-'}), so the ${inner.method} inside was decided on its own`;
}

export function traceText(trace: readonly TraceEntry[]): string {
  if (trace.length === 0) return 'no rule names this host';
  return trace.map((t) => `${t.effect} ${t.rule} (${t.at}) ${t.how}: ${t.why}`).join(' | ');
}

/** JUnit XML: a testsuite per test file, a testcase per case, a failure element with the trace for each failure. */
export function testJunit(run: TestRun): string {
  const files = new Map<string, CaseResult[]>();
  for (const result of run.results) {
    const file = result.case.location.file;
    files.set(file, [...(files.get(file) ?? []), result]);
  }
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="leash test" tests="${run.results.length}" failures="${run.failed}" errors="0">`,
  ];
  for (const [file, results] of files) {
    const failures = results.filter((r) => !r.passed).length;
    out.push(
      `  <testsuite name="${xml(file)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0">`,
    );
    for (const result of results) {
      const c = result.case;
      const head = `    <testcase name="${xml(caseName(c))}" classname="${xml(file)}" file="${xml(file)}" line="${c.location.line}"`;
      if (result.passed) {
        out.push(`${head}/>`);
        continue;
      }
      const details = [
        `${file}:${c.location.line}: ${c.request}${c.agent !== undefined ? ` (agent ${c.agent})` : ''}${c.time !== undefined ? ` at ${c.time}` : ''}`,
        `decided: ${describeDecision(result.decided)}: ${result.decided.message}`,
        ...(tunnelNote(result) ? [tunnelNote(result) as string] : []),
        'trace:',
        ...(result.trace.length === 0
          ? ['  no rule names this host']
          : result.trace.map((t) => `  ${t.effect} ${t.rule} (${t.at}) ${t.how}: ${t.why}`)),
      ];
      out.push(`${head}>`);
      out.push(
        `      <failure message="${xml(result.failure ?? '')}" type="policy">${details.map(xml).join('&#10;')}</failure>`,
      );
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n');
}

// Lone surrogates and U+FFFE/U+FFFF are not XML characters even as references.
const NOT_XML = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|[\uFFFE\uFFFF]/g;

function xml(text: string): string {
  return encodeXML(terminalSafe(text).replace(NOT_XML, '\uFFFD'));
}
