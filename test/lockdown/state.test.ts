// The lockdown state as data, and the admission step that reads it: tables of named cases.

import { describe, expect, it } from 'vitest';
import {
  EMPTY_LOCKDOWN,
  cleanReason,
  lockdownOf,
  mergeLockdown,
  newlyLocked,
  parseTarget,
  withLock,
  withoutLock,
  type LockdownEntry,
  type LockdownState,
} from '../../src/lockdown/state.js';
import { lockdownStep, type LockdownView } from '../../src/lockdown/step.js';

const e = (reason: string): LockdownEntry => ({
  reason,
  by: 'alice (uid 1000) (control socket)',
  since: Date.UTC(2026, 11, 3, 3, 0, 0),
});
const research: LockdownState = { all: null, agents: { research: e('exfiltration') } };
const everyone: LockdownState = { all: e('incident 42'), agents: {} };

describe('lockdownOf', () => {
  it.each([
    { name: 'nothing locked', state: EMPTY_LOCKDOWN, agent: 'research', expected: undefined },
    { name: 'the agent locked', state: research, agent: 'research', expected: 'exfiltration' },
    { name: 'another agent locked', state: research, agent: 'mail', expected: undefined },
    { name: 'every agent locked', state: everyone, agent: 'mail', expected: 'incident 42' },
    {
      name: 'every agent locked: unidentified clients too',
      state: everyone,
      agent: 'anonymous',
      expected: 'incident 42',
    },
    {
      name: 'every agent and this one: the all-agents entry speaks',
      state: { all: e('all'), agents: { research: e('one') } },
      agent: 'research',
      expected: 'all',
    },
    {
      name: 'a name from Object.prototype is no agent entry',
      state: research,
      agent: 'constructor',
      expected: undefined,
    },
  ])('$name', ({ state, agent, expected }) => {
    expect(lockdownOf(state, agent)?.reason).toBe(expected);
  });
});

describe('the lockdown step (right after identification)', () => {
  const view = (state: LockdownState): LockdownView => ({
    lockOf: (agent) => {
      const entry = lockdownOf(state, agent);
      return entry && { entry, scope: state.all ? 'all' : 'agent' };
    },
  });
  it.each([
    { name: 'no lockdown: on to the policy', view: undefined, agent: 'research', expected: undefined },
    { name: 'not this agent: on to the policy', view: view(research), agent: 'mail', expected: undefined },
    {
      name: 'this agent',
      view: view(research),
      agent: 'research',
      expected: 'agent research is locked down since 2026-12-03T03:00:00.000Z: exfiltration',
    },
    {
      name: 'every agent',
      view: view(everyone),
      agent: 'mail',
      expected: 'every agent is locked down since 2026-12-03T03:00:00.000Z: incident 42',
    },
  ])('$name', ({ view, agent, expected }) => {
    const refusal = lockdownStep(view, agent);
    if (expected === undefined) expect(refusal).toBeUndefined();
    else expect(refusal).toEqual({ ok: false, reason: 'lockdown', message: expected });
  });
});

describe('changing the state', () => {
  it.each([
    {
      name: 'lock agents',
      before: EMPTY_LOCKDOWN,
      after: withLock(EMPTY_LOCKDOWN, { agents: ['mail', 'research'] }, e('x')),
      cut: { all: false, agents: ['mail', 'research'] },
    },
    {
      name: 'lock one more agent',
      before: research,
      after: withLock(research, { agents: ['mail'] }, e('x')),
      cut: { all: false, agents: ['mail'] },
    },
    {
      name: 'lock every agent',
      before: research,
      after: withLock(research, { all: true }, e('x')),
      cut: { all: true, agents: [] },
    },
    {
      name: 'lift an agent',
      before: research,
      after: withoutLock(research, { agents: ['research'] }),
      cut: { all: false, agents: [] },
    },
    {
      name: 'lift everything',
      before: everyone,
      after: withoutLock(everyone, { all: true }),
      cut: { all: false, agents: [] },
    },
    {
      name: 'lock an agent while every agent is locked: nothing new to cut',
      before: everyone,
      after: withLock(everyone, { agents: ['mail'] }, e('x')),
      cut: { all: false, agents: [] },
    },
  ])('$name: what to cut', ({ before, after, cut }) => {
    expect(newlyLocked(before, after)).toEqual(cut);
  });

  it('an overlay (locks the store has not taken) adds to what the store holds', () => {
    expect(mergeLockdown(research, { all: null, agents: { mail: e('local') } })).toEqual({
      all: null,
      agents: { research: e('exfiltration'), mail: e('local') },
    });
    expect(mergeLockdown(research, everyone).all).toEqual(e('incident 42'));
  });
});

describe('what the control API accepts', () => {
  it.each([
    { name: 'no agents: every agent', agents: undefined, expected: { ok: true, target: { all: true } } },
    {
      name: 'names, sorted and without repeats',
      agents: ['research', 'mail', 'research'],
      expected: { ok: true, target: { agents: ['mail', 'research'] } },
    },
    {
      name: 'anonymous (unidentified clients)',
      agents: ['anonymous'],
      expected: { ok: true, target: { agents: ['anonymous'] } },
    },
    { name: 'an empty list (a mistake, not "every agent")', agents: [], expected: { ok: false } },
    { name: 'not a list', agents: 'research', expected: { ok: false } },
    { name: 'an invalid name', agents: ['Research'], expected: { ok: false } },
    { name: 'a name that is not text', agents: [42], expected: { ok: false } },
  ])('$name', ({ agents, expected }) => {
    expect(parseTarget(agents)).toMatchObject(expected);
  });

  it.each([
    { name: 'none: a default', text: undefined, expected: 'locked down by an operator' },
    { name: 'blank: a default', text: '   ', expected: 'locked down by an operator' },
    {
      name: 'control characters and line breaks become spaces',
      text: 'a\r\nX-Injected: 1\u0000b\u2028c',
      expected: 'a  X-Injected: 1 b c',
    },
    { name: 'bounded', text: 'x'.repeat(500), expected: 'x'.repeat(200) },
    { name: 'Unicode kept', text: 'naïve → pastebin', expected: 'naïve → pastebin' },
  ])('reason: $name', ({ text, expected }) => {
    expect(cleanReason(text)).toBe(expected);
  });
});
