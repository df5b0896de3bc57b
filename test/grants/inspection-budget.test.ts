// The budgets of one response's inspection, driven directly with a controlled clock: references past
// MAX_REFERENCES or work past INSPECT_BUDGET_MS are not examined, and exactly one record says which ran out.
// Revocation: the grants a response made go, each audited, unless a later response made them its own.

import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/record.js';
import { MemoryGrantStore } from '../../src/grants/memory-store.js';
import { Reflection } from '../../src/grants/reflection.js';
import type { Reference } from '../../src/inspect/reference.js';
import {
  INSPECT_BUDGET_MS,
  MAX_REFERENCES,
  ResponseInspection,
  type InspectedResponse,
} from '../../src/proxy/grants.js';
import type { ProxyState } from '../../src/proxy/state.js';
import { compileWithWarnings } from './compile.js';

const policy = compileWithWarnings(`
version: 1
settings: { grants: { maxPerResponse: 10000 } }
rules:
  - { name: api, domain: api.example, ports: [80], inspect: [json], effect: allow }
`);

function setup(clock: () => number) {
  const records: AuditRecord[] = [];
  const grants = new MemoryGrantStore();
  const state = {
    grants,
    now: () => 0,
    audit: { write: (r: AuditRecord) => records.push(r) },
  } as unknown as ProxyState;
  const response = {
    exchange: { id: 'req-1', record: { identity: 'none' } },
    rule: policy.rules[0],
    agent: 'a',
    responseUrl: 'http://api.example/s',
    host: 'api.example',
    port: 80,
    reflection: new Reflection('/s', {}),
  } as unknown as InspectedResponse;
  return { records, grants, inspection: new ResponseInspection(state, policy, response, clock) };
}

const refs = (n: number, from = 0): Reference[] =>
  Array.from({ length: n }, (_, i) => ({
    url: `http://h${from + i}.cdn.example/`,
    scheme: 'http',
    host: `h${from + i}.cdn.example`,
    hostKind: 'name',
    port: 80,
    found: `$[${from + i}]`,
  }));

describe('inspection budgets', () => {
  it(`examines at most ${MAX_REFERENCES} references, and says so once`, async () => {
    const { records, inspection } = setup(() => 0);
    await inspection.apply(refs(MAX_REFERENCES + 500), true);
    await inspection.apply(refs(100, MAX_REFERENCES + 500), true);
    expect(inspection.examined).toBe(MAX_REFERENCES);
    const stops = records.filter((r) => r.reason === 'inspection_stopped');
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({
      event: 'grant',
      rule: 'api',
      grant: { stopped: 'reference_budget', references: MAX_REFERENCES, source: 'req-1' },
    });
  });

  it(`stops once ${INSPECT_BUDGET_MS} ms of work are spent, and says so once`, async () => {
    // Every reading of the clock advances it by 1 ms: each selection costs 1 ms.
    let t = 0;
    const { records, inspection } = setup(() => t++);
    await inspection.apply(refs(5_000), true);
    expect(inspection.stopped).toBe('time_budget');
    // The budget is checked between batches of references, so it is overrun by at most one batch.
    expect(inspection.examined).toBeGreaterThan(INSPECT_BUDGET_MS);
    expect(inspection.examined).toBeLessThan(INSPECT_BUDGET_MS + 300);
    const stops = records.filter((r) => r.reason === 'inspection_stopped');
    expect(stops).toHaveLength(1);
    expect(stops[0]).toMatchObject({ grant: { stopped: 'time_budget', references: inspection.examined } });
  });
});

describe('revocation', () => {
  it('revokes each grant the body made, audited with its host and found', async () => {
    const { records, grants, inspection } = setup(() => 0);
    await inspection.apply(refs(3), true);
    await inspection.revoke('malformed');
    expect(await grants.find('a', 'http', 'h0.cdn.example', 80, 0)).toBeUndefined();
    const revoked = records.filter((r) => r.reason === 'grant_revoked');
    expect(revoked.map((r) => [r.host, r.grant?.found, r.grant?.revoked])).toEqual([
      ['h0.cdn.example', '$[0]', 'malformed'],
      ['h1.cdn.example', '$[1]', 'malformed'],
      ['h2.cdn.example', '$[2]', 'malformed'],
    ]);
  });

  it('grants from the headers stand; a grant a later response extended stays', async () => {
    const { grants, inspection } = setup(() => 0);
    await inspection.apply(refs(1, 0), false);
    await inspection.apply(refs(1, 1), true);
    await grants.add({
      agent: 'a',
      scheme: 'http',
      host: 'h1.cdn.example',
      port: 80,
      expiresAt: 99_000,
      url: null,
      source: { requestId: 'req-2', rule: 'api', url: 'x', found: '$' },
    });
    await inspection.revoke('truncated');
    expect(await grants.find('a', 'http', 'h0.cdn.example', 80, 0)).toBeDefined();
    expect(await grants.find('a', 'http', 'h1.cdn.example', 80, 0)).toMatchObject({ source: { requestId: 'req-2' } });
  });
});
