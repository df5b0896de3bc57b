// Placeholders: derived, not stored. The same CA gives the same placeholder (every replica, every restart);
// another agent, another secret or another CA gives another; the shape is recognisable and parses back.

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isPlaceholderOf, parsePlaceholder, placeholderFor, placeholderKey } from '../../src/secrets/placeholder.js';

const caKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

describe('placeholders', () => {
  const ca = caKey();
  const key = placeholderKey(ca);

  it('have the shape leash-ph-NAME-<32 hex> and parse back', () => {
    const p = placeholderFor(key, 'research', 'open-ai');
    expect(p).toMatch(/^leash-ph-open-ai-[0-9a-f]{32}$/);
    expect(parsePlaceholder(p)).toEqual({ token: p, secret: 'open-ai', mac: p.slice(-32) });
    expect(parsePlaceholder(p.toUpperCase())?.secret).toBe('open-ai');
  });

  it('are the same from the same CA key (a replica, a restart: the key is derived again, not stored)', () => {
    const again = placeholderKey(ca);
    expect(placeholderFor(again, 'research', 'openai')).toBe(placeholderFor(key, 'research', 'openai'));
  });

  it.each([
    { name: 'another agent', other: () => placeholderFor(key, 'writer', 'openai') },
    {
      name: 'another secret',
      other: () => placeholderFor(key, 'research', 'anthropic').replace('anthropic', 'openai'),
    },
    { name: 'another CA', other: () => placeholderFor(placeholderKey(caKey()), 'research', 'openai') },
    {
      name: 'the agent name run into the secret name',
      other: () => placeholderFor(key, 'research\u0000open', 'ai').replace('-ai-', '-openai-'),
    },
  ])('differ for $name, and only the agent’s own passes', ({ other }) => {
    const own = placeholderFor(key, 'research', 'openai');
    const theirs = other();
    expect(theirs).not.toBe(own);
    expect(isPlaceholderOf(key, 'research', parsePlaceholder(own)!)).toBe(true);
    expect(isPlaceholderOf(key, 'research', parsePlaceholder(theirs)!)).toBe(false);
  });

  it.each([
    'leash-ph-openai',
    'leash-ph-openai-0123',
    'leash-ph--0123456789abcdef0123456789abcdef',
    'leash-ph-openai-0123456789abcdef0123456789abcdefx',
  ])('%s is not a placeholder', (text) => {
    expect(parsePlaceholder(text)).toBeUndefined();
  });
});
