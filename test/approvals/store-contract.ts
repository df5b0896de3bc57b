// The contract every approval store honours, written once so the shared store (Redis) runs the same specification:
// one approval per (agent, host, port), identical requests coalesced; pending ones expire; an answer turns the next
// request into an allowed one (once: exactly one; for: until its end), or refuses them (deny).

import { describe, expect, it } from 'vitest';
import { MAX_PENDING_PER_AGENT, type ApprovalCandidate, type ApprovalStore } from '../../src/approvals/store.js';

const candidate = (id: string, over: Partial<ApprovalCandidate> = {}): ApprovalCandidate => ({
  id,
  agent: 'dev',
  host: 'new.example.test',
  port: 443,
  first: { requestId: `req-${id}`, method: 'GET', path: '/x' },
  ...over,
});
const EXPIRE = 60_000;

export function describeApprovalStore(name: string, create: () => ApprovalStore | Promise<ApprovalStore>): void {
  describe(`approval store contract: ${name}`, () => {
    it('creates one pending approval, and coalesces identical requests into it', async () => {
      const store = await create();
      expect(await store.arrive(candidate('a1'), EXPIRE, 1_000)).toMatchObject({
        kind: 'created',
        approval: {
          id: 'a1',
          state: 'pending',
          requests: 1,
          createdAt: 1_000,
          expiresAt: 61_000,
          first: { requestId: 'req-a1' },
        },
      });
      expect(
        await store.arrive(
          candidate('a2', { first: { requestId: 'other', method: 'POST', path: '/y' } }),
          EXPIRE,
          2_000,
        ),
      ).toMatchObject({ kind: 'pending', approval: { id: 'a1', requests: 2, first: { requestId: 'req-a1' } } });
      // A held request checking again is not another request.
      expect(await store.arrive(candidate('a3'), EXPIRE, 3_000, false)).toMatchObject({
        kind: 'pending',
        approval: { id: 'a1', requests: 2 },
      });
      expect((await store.list(3_000)).map((a) => a.id)).toEqual(['a1']);
      expect(await store.get('a1', 3_000)).toMatchObject({ requests: 2 });
    });

    it.each([
      ['another agent', { agent: 'ops' }],
      ['another host', { host: 'other.example.test' }],
      ['another port', { port: 8443 }],
    ])('%s is another question', async (_what, over) => {
      const store = await create();
      await store.arrive(candidate('b1'), EXPIRE, 0);
      expect(await store.arrive(candidate('b2', over), EXPIRE, 1)).toMatchObject({
        kind: 'created',
        approval: { id: 'b2' },
      });
    });

    it('a pending approval expires, and the next request asks again under a new id', async () => {
      const store = await create();
      await store.arrive(candidate('c1'), EXPIRE, 0);
      expect(await store.get('c1', EXPIRE)).toBeUndefined();
      expect(await store.list(EXPIRE)).toEqual([]);
      expect(await store.decide('c1', { grant: 'once', by: 'alice' }, EXPIRE, EXPIRE)).toBeUndefined();
      expect(await store.arrive(candidate('c2'), EXPIRE, EXPIRE)).toMatchObject({
        kind: 'created',
        approval: { id: 'c2' },
      });
    });

    it('--once: exactly one request is allowed, then the approval is used up', async () => {
      const store = await create();
      await store.arrive(candidate('d1'), EXPIRE, 0);
      expect(await store.decide('d1', { grant: 'once', by: 'alice' }, EXPIRE, 10)).toMatchObject({
        state: 'allowed',
        grant: 'once',
        decidedBy: 'alice',
        decidedAt: 10,
      });
      expect(await store.arrive(candidate('d2'), EXPIRE, 20)).toMatchObject({
        kind: 'allowed',
        approval: { id: 'd1', grant: 'once' },
      });
      expect(await store.arrive(candidate('d3'), EXPIRE, 30)).toMatchObject({
        kind: 'created',
        approval: { id: 'd3' },
      });
    });

    it('--for: every request is allowed until its end, then it asks again', async () => {
      const store = await create();
      await store.arrive(candidate('e1'), EXPIRE, 0);
      expect(await store.decide('e1', { grant: 'for', forMs: 5_000, by: 'alice' }, EXPIRE, 100)).toMatchObject({
        grant: 'for',
        expiresAt: 5_100,
      });
      expect((await store.arrive(candidate('e2'), EXPIRE, 200)).kind).toBe('allowed');
      expect((await store.arrive(candidate('e3'), EXPIRE, 5_099)).kind).toBe('allowed');
      expect(await store.arrive(candidate('e4'), EXPIRE, 5_100)).toMatchObject({
        kind: 'created',
        approval: { id: 'e4' },
      });
    });

    it('deny: requests are refused at once until it is forgotten', async () => {
      const store = await create();
      await store.arrive(candidate('f1'), EXPIRE, 0);
      expect(await store.decide('f1', { grant: 'deny', by: 'bob' }, EXPIRE, 1_000)).toMatchObject({
        state: 'denied',
        expiresAt: 61_000,
      });
      expect(await store.arrive(candidate('f2'), EXPIRE, 2_000)).toMatchObject({
        kind: 'denied',
        approval: { id: 'f1', decidedBy: 'bob' },
      });
      expect((await store.arrive(candidate('f3'), EXPIRE, 61_000)).kind).toBe('created');
    });

    it('--always: requests are allowed while the written rule takes over', async () => {
      const store = await create();
      await store.arrive(candidate('g1'), EXPIRE, 0);
      await store.decide('g1', { grant: 'always', by: 'alice' }, EXPIRE, 0);
      expect(await store.arrive(candidate('g2'), EXPIRE, 1)).toMatchObject({
        kind: 'allowed',
        approval: { grant: 'always' },
      });
      expect(await store.decide('nope', { grant: 'once', by: 'alice' }, EXPIRE, 1)).toBeUndefined();
    });

    it(`an agent holds at most ${MAX_PENDING_PER_AGENT} approvals; past it nothing is created`, async () => {
      const store = await create();
      for (let i = 0; i < MAX_PENDING_PER_AGENT; i++)
        await store.arrive(candidate(`h${i}`, { host: `h${i}.test` }), EXPIRE, 0);
      expect(await store.arrive(candidate('over', { host: 'over.test' }), EXPIRE, 0)).toEqual({ kind: 'full' });
      expect((await store.arrive(candidate('other', { host: 'over.test', agent: 'ops' }), EXPIRE, 0)).kind).toBe(
        'created',
      );
      expect((await store.arrive(candidate('later', { host: 'over.test' }), EXPIRE, EXPIRE)).kind).toBe('created');
    });
  });
}
