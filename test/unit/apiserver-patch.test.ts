import { describe, expect, it } from 'vitest';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from '../apiserver/patch.js';
import { ApiError } from '../apiserver/status.js';

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
  return undefined;
}

describe('JSON merge patch (RFC 7386)', () => {
  it('merges objects, deletes with null and replaces everything else', () => {
    const target = { a: 'b', c: { d: 'e', f: 'g' }, list: [1, 2] };
    expect(applyMergePatch(target, { a: 'z', c: { f: null, h: 1 }, list: [3] })).toEqual({ a: 'z', c: { d: 'e', h: 1 }, list: [3] });
    expect(applyMergePatch({ a: [{ b: 'c' }] }, { a: [1] })).toEqual({ a: [1] });
    expect(applyMergePatch({ a: 'b' }, ['c'])).toEqual(['c']);
    expect(applyMergePatch({ a: { b: 1 } }, { a: 'x' })).toEqual({ a: 'x' });
    expect(target).toEqual({ a: 'b', c: { d: 'e', f: 'g' }, list: [1, 2] });
  });
});

describe('JSON patch (RFC 6902)', () => {
  const doc = { foo: 'bar', arr: ['a', 'b'], 'we/ird~key': 1, nested: { x: 1 } };

  it('applies add/remove/replace/move/copy/test, including escaped pointers and "-"', () => {
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/arr/1', value: 'ins' },
      { op: 'add', path: '/arr/-', value: 'end' },
      { op: 'remove', path: '/we~1ird~0key' },
      { op: 'replace', path: '/foo', value: 'baz' },
      { op: 'copy', from: '/nested', path: '/copied' },
      { op: 'move', from: '/nested/x', path: '/moved' },
      { op: 'test', path: '/foo', value: 'baz' },
    ]);
    expect(out).toEqual({ foo: 'baz', arr: ['a', 'ins', 'b', 'end'], nested: {}, copied: { x: 1 }, moved: 1 });
    expect(doc.arr).toEqual(['a', 'b']);
  });

  it('rejects as a whole: 422 when an op cannot apply, 400 when the patch is malformed', () => {
    expect(codeOf(() => applyJsonPatch(doc, [{ op: 'test', path: '/foo', value: 'nope' }]))).toBe(422);
    expect(codeOf(() => applyJsonPatch(doc, [{ op: 'replace', path: '/missing', value: 1 }]))).toBe(422);
    expect(codeOf(() => applyJsonPatch(doc, [{ op: 'remove', path: '/arr/5' }]))).toBe(422);
    expect(codeOf(() => applyJsonPatch(doc, [{ op: 'add', path: '/no/such/parent', value: 1 }]))).toBe(422);
    expect(codeOf(() => applyJsonPatch(doc, { op: 'add' }))).toBe(400);
    expect(codeOf(() => applyJsonPatch(doc, [{ op: 'frobnicate', path: '/foo' }]))).toBe(400);
    expect(codeOf(() => applyJsonPatch(doc, [{ op: 'add', path: '/x' }]))).toBe(400);
  });

  it('treats a test of an absent path against null as passing', () => {
    expect(applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/b', value: null }])).toEqual({ a: 1 });
  });
});

describe('strategic merge patch (subset)', () => {
  const pod = {
    metadata: { finalizers: ['a'], labels: { x: '1' } },
    spec: {
      containers: [{ name: 'one', image: 'i1', env: [{ name: 'A', value: '1' }] }, { name: 'two', image: 'i2' }],
      tolerations: [{ key: 't1' }],
    },
  };

  it('merges object lists by merge key, appends new items and deletes with $patch: delete', () => {
    const out = applyStrategicMergePatch(pod, {
      spec: { containers: [{ name: 'one', env: [{ name: 'B', value: '2' }] }, { name: 'three', image: 'i3' }, { name: 'two', $patch: 'delete' }] },
    }) as typeof pod;
    expect(out.spec.containers).toEqual([
      { name: 'one', image: 'i1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
      { name: 'three', image: 'i3' },
    ]);
  });

  it('replaces lists without a merge key, unions merge-strategy primitive lists, honours directives', () => {
    const out = applyStrategicMergePatch(pod, {
      metadata: { finalizers: ['b', 'a'], '$deleteFromPrimitiveList/finalizers': ['a'] },
      spec: { tolerations: [{ key: 't2' }], '$setElementOrder/containers': [{ name: 'two' }, { name: 'one' }] },
    }) as typeof pod;
    expect(out.metadata.finalizers).toEqual(['b']);
    expect(out.spec.tolerations).toEqual([{ key: 't2' }]);
    expect(out.spec.containers.map((c) => c.name)).toEqual(['one', 'two']);
    const replaced = applyStrategicMergePatch(pod, { metadata: { labels: { $patch: 'replace', y: '2' } } }) as typeof pod;
    expect(replaced.metadata.labels).toEqual({ y: '2' });
    const wholeList = applyStrategicMergePatch(pod, { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'o' }] } }) as typeof pod;
    expect(wholeList.spec.containers).toEqual([{ name: 'only', image: 'o' }]);
  });

  it('rejects items without the merge key', () => {
    expect(codeOf(() => applyStrategicMergePatch(pod, { spec: { containers: [{ image: 'x' }] } }))).toBe(400);
  });
});
