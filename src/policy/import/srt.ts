// sandbox-runtime (srt) settings: `network.allowedDomains` and `network.deniedDomains` in its settings JSON. Its
// proxy checks deniedDomains first, then allowedDomains, and denies the rest (a settings file has no ask
// callback). An entry is a host, `*.example.com` (subdomains at any depth, never the apex, never an IP address:
// the same as leash), `localhost`, or a bracketed IPv6 address, each with an optional `:port` that limits it to
// that port; without one it matches every port. deniedDomains may also hold `*` or `*:PORT`.

import { compileHostPattern, type HostPattern } from '../host-pattern.js';
import type { ImportIssue, ImportResult, SourceRef } from './model.js';
import { compileTable, covers, perRegion } from './regions.js';
import { isRecord, readJsonSource, type SourceDocument } from './source.js';

interface Entry {
  readonly pattern: HostPattern;
  readonly text: string;
  readonly port: number | null;
  readonly source: SourceRef;
}

const CARRIED: ReadonlySet<string> = new Set(['allowedDomains', 'deniedDomains']);

export function importSrt(file: string, text: string): ImportResult {
  const read = readJsonSource(file, text);
  if (!read.ok) return { ok: false, issues: [read.issue] };
  const doc = read.doc;
  const issues: ImportIssue[] = [];
  if (!isRecord(doc.value))
    return { ok: false, issues: [doc.issue([], 'sandbox-runtime settings are a JSON object with a "network" object')] };
  const network = doc.value.network;
  if (!isRecord(network))
    return {
      ok: false,
      issues: [
        doc.issue(
          ['network'],
          'no "network" object: nothing to import (sandbox-runtime settings keep allowedDomains and deniedDomains there)',
        ),
      ],
    };

  const allowed = entries(doc, network, 'allowedDomains', issues);
  const denied = entries(doc, network, 'deniedDomains', issues);
  if (issues.length > 0) return { ok: false, issues };

  const notes = [
    'sandbox-runtime checks deniedDomains first, then allowedDomains, and denies everything else; an entry without :port matches every port. The rules below decide the same.',
  ];
  const skipped = Object.keys(network).filter((k) => !CARRIED.has(k));
  if (skipped.length)
    notes.push(
      `not carried over: network.${skipped.join(', network.')} (sandbox settings, not egress policy; leash's own settings cover the proxy)`,
    );
  const other = Object.keys(doc.value).filter((k) => k !== 'network');
  if (other.length)
    notes.push(`not carried over: ${other.join(', ')} (filesystem and process sandboxing; leash governs egress only)`);
  if ([...allowed].some((e) => e.pattern.kind === 'exact' && e.pattern.host === 'localhost')) {
    notes.push(
      "localhost: leash's address guard refuses loopback addresses unless settings.network.allowCidrs lists them",
    );
  }

  const deniedHere = perRegion((region) => denied.filter((e) => covers(e.pattern, region)));
  const allowedHere = perRegion((region) => allowed.filter((e) => covers(e.pattern, region)));
  const onPort = (entry: Entry, port: number) => entry.port === null || entry.port === port;
  const { rules, notes: dropped } = compileTable({
    patterns: [...allowed, ...denied].filter((e) => e.pattern.kind !== 'any').map((e) => e.text),
    declaredDenies: denied
      .filter((e) => e.port === null && e.pattern.kind !== 'any')
      .map((e) => ({ pattern: e.text, source: e.source })),
    agents: ['anonymous'],
    portRanges: [...allowed, ...denied]
      .filter((e) => e.port !== null)
      .map((e) => [e.port as number, e.port as number] as const),
    mode: 'tunnel',
    decide: ({ region, port }) => {
      const deny = deniedHere(region).find((e) => onPort(e, port));
      if (deny) return { effect: 'deny', source: deny.source };
      const allow = allowedHere(region).find((e) => onPort(e, port));
      return allow ? { effect: 'allow', source: allow.source } : { effect: 'deny', source: null };
    },
  });
  return { ok: true, policy: { format: 'srt', notes: [...notes, ...dropped], agents: [], rules } };
}

function entries(
  doc: SourceDocument,
  network: Record<string, unknown>,
  key: 'allowedDomains' | 'deniedDomains',
  issues: ImportIssue[],
): Entry[] {
  const list = network[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    issues.push(doc.issue(['network', key], `network.${key} must be a list of domain patterns`));
    return [];
  }
  const out: Entry[] = [];
  list.forEach((raw, i) => {
    const path = ['network', key, i];
    if (typeof raw !== 'string') {
      issues.push(
        doc.issue(
          path,
          `network.${key}[${i}] must be a string such as "example.com", "*.example.com" or "example.com:443"`,
        ),
      );
      return;
    }
    const split = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(raw);
    const host = split?.[1]?.replace(/^\[(.*)\]$/, '$1');
    const port = split?.[2] === undefined ? null : Number(split[2]);
    if (!host || (port !== null && (port < 1 || port > 65535))) {
      issues.push(doc.issue(path, `"${raw}" is not a domain pattern with an optional :port (1-65535)`));
      return;
    }
    if (host === '*' && key === 'allowedDomains') {
      issues.push(doc.issue(path, '"*" is accepted by sandbox-runtime only in deniedDomains'));
      return;
    }
    const compiled = compileHostPattern(host);
    if (!compiled.ok) {
      issues.push(doc.issue(path, compiled.message));
      return;
    }
    const line = doc.at(path).line;
    const source: SourceRef = { line, text: `network.${key}: "${raw}"` };
    out.push({ pattern: compiled.pattern, text: host, port, source });
  });
  return out;
}
