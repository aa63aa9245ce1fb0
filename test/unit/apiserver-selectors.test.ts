import { describe, expect, it } from 'vitest';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../apiserver/selectors.js';
import { ApiError } from '../apiserver/status.js';

const labels = { app: 'web', tier: 'front', 'example.com/zone': 'a', replicas: '3' };
const sel = (text: string, l: Record<string, string> | undefined = labels): boolean => matchesLabels(parseLabelSelector(text), l);

describe('label selectors', () => {
  it('supports equality, inequality, set and existence requirements', () => {
    expect(sel('')).toBe(true);
    expect(sel('app=web')).toBe(true);
    expect(sel('app==web')).toBe(true);
    expect(sel('app!=web')).toBe(false);
    expect(sel('missing!=x')).toBe(true);
    expect(sel('app in (db, web)')).toBe(true);
    expect(sel('app notin (web)')).toBe(false);
    expect(sel('missing notin (web)')).toBe(true);
    expect(sel('example.com/zone')).toBe(true);
    expect(sel('!example.com/zone')).toBe(false);
    expect(sel('app=web, tier in (front),!missing')).toBe(true);
    expect(sel('replicas>2,replicas<4')).toBe(true);
    expect(sel('replicas>3')).toBe(false);
    expect(sel('app=', { app: '' })).toBe(true);
    expect(matchesLabels(parseLabelSelector('app'), undefined)).toBe(false);
    expect(sel('app', {})).toBe(false);
  });

  it('rejects bad syntax with 400', () => {
    for (const bad of ['app in (', 'app in ()', 'a b', '=x', 'app=web,', 'bad key=x', 'a=b=c', 'a>x']) {
      expect(() => parseLabelSelector(bad), bad).toThrow(ApiError);
    }
  });
});

describe('field selectors', () => {
  const supported = new Set(['metadata.name', 'metadata.namespace', 'spec.nodeName']);
  const read = (values: Record<string, string>) => (f: string): string | undefined => values[f];

  it('matches =, == and != (absent reads as empty) with escapes', () => {
    const reqs = parseFieldSelector('metadata.name=a\\,b,spec.nodeName!=n1,metadata.namespace==default', supported);
    expect(reqs).toEqual([
      { field: 'metadata.name', value: 'a,b', negate: false },
      { field: 'spec.nodeName', value: 'n1', negate: true },
      { field: 'metadata.namespace', value: 'default', negate: false },
    ]);
    expect(matchesFields(reqs, read({ 'metadata.name': 'a,b', 'metadata.namespace': 'default' }))).toBe(true);
    expect(matchesFields(reqs, read({ 'metadata.name': 'a,b', 'metadata.namespace': 'default', 'spec.nodeName': 'n1' }))).toBe(false);
    expect(matchesFields(parseFieldSelector('spec.nodeName=', supported), read({}))).toBe(true);
  });

  it('refuses unsupported fields and bad terms', () => {
    expect(() => parseFieldSelector('spec.image=x', supported)).toThrow('field label not supported: spec.image');
    expect(() => parseFieldSelector('metadata.name', supported)).toThrow(ApiError);
  });
});
