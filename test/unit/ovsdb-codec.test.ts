import { describe, expect, it } from 'vitest';
import {
  OvsdbCodecError, decodeColumn, decodeGeneric, decodeRow, encodeColumn, encodeGeneric, encodeMutationValue, encodeRow,
  namedUuid, uuid,
} from '../../src/ovs/codec.js';
import { NB, OVS } from '../../src/ovs/models/index.js';
import { parseSchema, type ColumnSchema } from '../../src/ovs/schema.js';
import { readFileSync } from 'node:fs';

const U1 = '6d3bb9d4-2c4e-4b5a-9d1c-0123456789ab';
const U2 = '00000000-1111-2222-3333-444444444444';
const atom: ColumnSchema = { key: 'string', min: 1, max: 1 };
const optInt: ColumnSchema = { key: 'integer', min: 0, max: 1 };
const uuidSet: ColumnSchema = { key: 'uuid', min: 0, max: Infinity };
const strMap: ColumnSchema = { key: 'string', value: 'string', min: 0, max: Infinity };
const intUuidMap: ColumnSchema = { key: 'integer', value: 'uuid', min: 0, max: Infinity };

describe('OVSDB codec', () => {
  it('decodes atoms, optional atoms, sets (incl. bare-atom form) and maps', () => {
    expect(decodeColumn(atom, 'x', 'c')).toBe('x');
    expect(decodeColumn(optInt, ['set', []], 'c')).toBeUndefined();
    expect(decodeColumn(optInt, 5, 'c')).toBe(5);
    expect(decodeColumn(optInt, ['set', [5]], 'c')).toBe(5);
    expect(decodeColumn(uuidSet, ['uuid', U1], 'c')).toEqual([U1]);
    expect(decodeColumn(uuidSet, ['set', [['uuid', U1], ['uuid', U2]]], 'c')).toEqual([U1, U2]);
    expect(decodeColumn(strMap, ['map', [['a', '1'], ['b', '2']]], 'c')).toEqual({ a: '1', b: '2' });
    expect(decodeColumn(intUuidMap, ['map', [[3, ['uuid', U1]]]], 'c')).toEqual({ 3: U1 });
  });

  it('rejects wire values of the wrong type', () => {
    expect(() => decodeColumn(atom, 5, 'T.c')).toThrow(OvsdbCodecError);
    expect(() => decodeColumn(uuidSet, 'not-a-uuid', 'T.c')).toThrow(/expected \["uuid"/);
    expect(() => decodeColumn(optInt, ['set', [1, 2]], 'T.c')).toThrow(/more than one/);
    expect(() => decodeColumn(strMap, ['set', []], 'T.c')).toThrow(/map/);
  });

  it('encodes typed values, uuids and named uuids', () => {
    expect(encodeColumn(atom, 'x', 'c')).toBe('x');
    expect(encodeColumn(optInt, undefined, 'c')).toEqual(['set', []]);
    expect(encodeColumn(optInt, 7, 'c')).toEqual(['set', [7]]);
    expect(encodeColumn(uuidSet, [U1, namedUuid('row1')], 'c')).toEqual(['set', [['uuid', U1], ['named-uuid', 'row1']]]);
    expect(encodeColumn(uuidSet, U1, 'c')).toEqual(['set', [['uuid', U1]]]);
    expect(encodeColumn(strMap, { a: '1', skip: undefined }, 'c')).toEqual(['map', [['a', '1']]]);
    expect(encodeColumn(intUuidMap, { 3: U1 }, 'c')).toEqual(['map', [[3, ['uuid', U1]]]]);
  });

  it('refuses values that do not fit the column', () => {
    expect(() => encodeColumn(atom, 5, 'LS.name')).toThrow(/LS.name: expected string/);
    expect(() => encodeColumn(optInt, 1.5, 'c')).toThrow(/integer/);
    expect(() => encodeColumn(uuidSet, ['pod1'], 'c')).toThrow(/uuid/);
    expect(() => encodeColumn(strMap, ['a'], 'c')).toThrow(/map/);
    expect(() => encodeColumn(intUuidMap, { x: U1 }, 'c')).toThrow(/not a number/);
    expect(() => namedUuid('has-dash')).toThrow(/identifier/);
    expect(() => uuid('nope')).toThrow(/not a uuid/);
  });

  it('encodes mutation arguments by mutator', () => {
    expect(encodeMutationValue(uuidSet, 'insert', namedUuid('p'), 'c')).toEqual(['set', [['named-uuid', 'p']]]);
    expect(encodeMutationValue(strMap, 'insert', { k: 'v' }, 'c')).toEqual(['map', [['k', 'v']]]);
    expect(encodeMutationValue(strMap, 'delete', ['k'], 'c')).toEqual(['set', ['k']]);
    expect(encodeMutationValue(optInt, '+=', 2, 'c')).toBe(2);
  });

  it('round-trips a typed row through the generated metadata', () => {
    const t = NB.schema.tables.Logical_Switch_Port;
    const row = { name: 'p1', addresses: ['0a:00:00:00:00:01 10.0.0.1'], external_ids: { pod: 'ns/p' }, up: true, tag_request: 5 };
    const wire = encodeRow(t, 'Logical_Switch_Port', row);
    expect(wire).toEqual({
      name: 'p1', addresses: ['set', ['0a:00:00:00:00:01 10.0.0.1']], external_ids: ['map', [['pod', 'ns/p']]],
      up: ['set', [true]], tag_request: ['set', [5]],
    });
    expect(decodeRow(t, 'Logical_Switch_Port', wire)).toEqual(row);
  });

  it('falls back to generic encoding without a schema', () => {
    expect(encodeGeneric(['a', uuid(U1)], 'c')).toEqual(['set', ['a', ['uuid', U1]]]);
    expect(encodeGeneric({ k: namedUuid('n') }, 'c')).toEqual(['map', [['k', ['named-uuid', 'n']]]]);
    expect(decodeGeneric(['set', [['uuid', U1], 'x']])).toEqual([U1, 'x']);
    expect(decodeGeneric(['map', [['a', 1]]])).toEqual({ a: 1 });
  });

  it('generated metadata matches the installed schemas', () => {
    for (const [model, file] of [[OVS, '/usr/share/openvswitch/vswitch.ovsschema'], [NB, '/usr/share/ovn/ovn-nb.ovsschema']] as const) {
      const live = parseSchema(JSON.parse(readFileSync(file, 'utf8')));
      expect(model.schema.version).toBe(live.version);
      expect(JSON.parse(JSON.stringify(model.schema.tables))).toEqual(JSON.parse(JSON.stringify(live.tables)));
    }
  });
});
