// Durations (`500ms`, `30s`, `1m`, `1h`) and rates (`60/1m`, `10/s`) as operators write them.

import { describe, expect, it } from 'vitest';
import { parseDuration, parseRate } from '../../src/policy/duration.js';

describe('parseDuration', () => {
  it.each<[text: string, ms: number | undefined]>([
    ['500ms', 500],
    ['0ms', 0],
    ['30s', 30_000],
    ['1m', 60_000],
    ['90m', 5_400_000],
    ['1h', 3_600_000],
    ['24h', 86_400_000],
    ['1', undefined],
    ['1s ', undefined],
    [' 1s', undefined],
    ['1.5s', undefined],
    ['-1s', undefined],
    ['1d', undefined],
    ['1S', undefined],
    ['1 s', undefined],
    ['30 seconds', undefined],
    ['s', undefined],
    ['', undefined],
    ['1m30s', undefined],
    ['99999999999999999999h', undefined],
  ])('%j → %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('parseRate', () => {
  it.each<[text: string, rate: { limit: number; windowMs: number } | undefined]>([
    ['60/1m', { limit: 60, windowMs: 60_000 }],
    ['10/s', { limit: 10, windowMs: 1000 }],
    ['1000/1h', { limit: 1000, windowMs: 3_600_000 }],
    ['5/500ms', { limit: 5, windowMs: 500 }],
    ['100/10m', { limit: 100, windowMs: 600_000 }],
    ['1/h', { limit: 1, windowMs: 3_600_000 }],
    ['0/1m', undefined],
    ['60/0m', undefined],
    ['60/0s', undefined],
    ['060/1m', undefined],
    ['60/1', undefined],
    ['60', undefined],
    ['60/', undefined],
    ['/1m', undefined],
    ['60 per minute', undefined],
    ['60/1min', undefined],
    ['60/1m ', undefined],
    ['1.5/1m', undefined],
    ['-1/1m', undefined],
    ['99999999999999999999/1m', undefined],
    ['1/99999999999999999999h', undefined],
  ])('%j → %j', (text, rate) => {
    const parsed = parseRate(text);
    expect(parsed && { limit: parsed.limit, windowMs: parsed.windowMs }).toEqual(rate);
    if (parsed) expect(parsed.text).toBe(text);
  });
});
