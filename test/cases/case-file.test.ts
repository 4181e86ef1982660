import { describe, expect, it } from 'vitest';
import { setPath } from '../../src/cases/case-file.js';
import { Rejection } from '../../src/cases/rejection.js';

describe('setPath', () => {
  it('sets a dotted path, creating objects on the way', () => {
    const target: Record<string, unknown> = { a: 1, b: 'x' };
    setPath(target, 'b.c.d', 5);
    setPath(target, 'e', { f: [1] });
    expect(target).toEqual({ a: 1, b: { c: { d: 5 } }, e: { f: [1] } });
  });

  it('refuses prototype-reaching and empty segments, changing nothing', () => {
    for (const path of ['__proto__.polluted', 'a.constructor.prototype', 'prototype', 'a..b', '']) {
      const target: Record<string, unknown> = {};
      expect(() => setPath(target, path, 1)).toThrow(Rejection);
      expect(target).toEqual({});
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('copies the value, so the source cannot change the case later', () => {
    const value = { n: 1 };
    const target: Record<string, unknown> = {};
    setPath(target, 'v', value);
    value.n = 2;
    expect(target).toEqual({ v: { n: 1 } });
  });
});
