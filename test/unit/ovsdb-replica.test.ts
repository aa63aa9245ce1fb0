import { describe, expect, it } from 'vitest';
import { NB } from '../../src/ovs/models/index.js';
import type { Nb } from '../../src/ovs/models/index.js';
import { Replica, type RowChange } from '../../src/ovs/replica.js';

const U1 = '11111111-1111-1111-1111-111111111111';
const U2 = '22222222-2222-2222-2222-222222222222';
const P1 = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa';
const P2 = 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb';

function replica(): { r: Replica<Nb.Tables>; changes: RowChange<Nb.Tables>[] } {
  const r = new Replica<Nb.Tables>(NB.schema, { Logical_Switch: undefined, Logical_Switch_Port: ['name', 'up', 'addresses', 'external_ids'] });
  const changes: RowChange<Nb.Tables>[] = [];
  r.onChange((c) => changes.push(c));
  return { r, changes };
}

describe('Replica', () => {
  it('fills omitted columns with defaults on update2 initial/insert', () => {
    const { r, changes } = replica();
    r.apply({ Logical_Switch_Port: { [P1]: { insert: { name: 'p1' } } } }, 2);
    expect(r.get('Logical_Switch_Port', P1)).toEqual({ _uuid: P1, name: 'p1', up: undefined, addresses: [], external_ids: {} });
    expect(changes.map((c) => c.kind)).toEqual(['insert']);
  });

  it('applies update2 modify diffs: set symmetric difference, map add/replace/remove, new value for 0..1', () => {
    const { r, changes } = replica();
    r.apply({
      Logical_Switch: { [U1]: { initial: { name: 'ls', ports: ['set', [['uuid', P1]]], external_ids: ['map', [['a', '1'], ['b', '2']]] } } },
      Logical_Switch_Port: { [P1]: { initial: { name: 'p1', up: false } } },
    }, 2);
    r.apply({
      Logical_Switch: {
        [U1]: { modify: { ports: ['set', [['uuid', P1], ['uuid', P2]]], external_ids: ['map', [['a', '1'], ['b', '3'], ['c', '4']]] } },
      },
      Logical_Switch_Port: { [P1]: { modify: { up: true } } },
    }, 2);
    expect(r.get('Logical_Switch', U1)?.ports).toEqual([P2]);
    expect(r.get('Logical_Switch', U1)?.external_ids).toEqual({ b: '3', c: '4' });
    expect(r.get('Logical_Switch_Port', P1)?.up).toBe(true);
    const mod = changes.filter((c) => c.kind === 'modify');
    expect(mod).toHaveLength(2);
    expect((mod[1]?.old as Nb.LogicalSwitchPort).up).toBe(false);
    r.apply({ Logical_Switch_Port: { [P1]: { modify: { up: ['set', []] } } } }, 2);
    expect(r.get('Logical_Switch_Port', P1)?.up).toBeUndefined();
  });

  it('applies update (version 1) new/old and deletes', () => {
    const { r } = replica();
    r.apply({ Logical_Switch: { [U1]: { new: { name: 'ls', ports: ['set', []] } } } }, 1);
    r.apply({ Logical_Switch: { [U1]: { old: { name: 'ls' }, new: { name: 'ls2', ports: ['set', []] } } } }, 1);
    expect(r.get('Logical_Switch', U1)?.name).toBe('ls2');
    r.apply({ Logical_Switch: { [U1]: { old: { name: 'ls2' } } } }, 1);
    expect(r.get('Logical_Switch', U1)).toBeUndefined();
  });

  it('resync reports only the differences', () => {
    const { r, changes } = replica();
    r.apply({ Logical_Switch: { [U1]: { initial: { name: 'a' } }, [U2]: { initial: { name: 'b' } } } }, 2);
    changes.length = 0;
    r.resync({ Logical_Switch: { [U1]: { initial: { name: 'a' } }, [U2]: { initial: { name: 'B' } }, [P1]: { initial: { name: 'c' } } } }, 2);
    r.resync({ Logical_Switch: { [U2]: { initial: { name: 'B' } }, [P1]: { initial: { name: 'c' } } } }, 2);
    expect(changes.map((c) => `${c.kind}:${c.uuid.slice(0, 1)}`)).toEqual(['modify:2', 'insert:a', 'delete:1']);
    expect(r.rows('Logical_Switch').map((x) => x.name).sort()).toEqual(['B', 'c']);
  });

  it('ignores tables it does not monitor', () => {
    const { r, changes } = replica();
    r.apply({ ACL: { [U1]: { insert: { priority: 1 } } } }, 2);
    expect(changes).toHaveLength(0);
    expect(() => r.table('ACL')).toThrow(/not monitored/);
  });
});
