/**
 * Label and field selectors with the grammar of `k8s.io/apimachinery` (labels.Parse / fields.ParseSelector):
 * labels: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>n`, `k<n`, joined by commas;
 * fields: `f=v`, `f==v`, `f!=v`, joined by commas (`\,` `\=` `\\` escape).
 */
import { badRequest } from './status.js';

export type LabelRequirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'gt' | 'lt'; value: number };

export type Labels = Readonly<Record<string, string>> | undefined;

const KEY_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isQualifiedName(key: string): boolean {
  const slash = key.indexOf('/');
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (slash !== -1) {
    const prefix = key.slice(0, slash);
    if (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return false;
  }
  return name.length > 0 && name.length <= 63 && KEY_NAME.test(name);
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

type Token =
  | { t: 'id'; v: string }
  | { t: 'op'; v: '=' | '==' | '!=' | '!' | '>' | '<' | '(' | ')' | ',' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t') { i++; continue; }
    const two = text.slice(i, i + 2);
    if (two === '==' || two === '!=') { tokens.push({ t: 'op', v: two }); i += 2; continue; }
    if (c === '=' || c === '!' || c === '>' || c === '<' || c === '(' || c === ')' || c === ',') {
      tokens.push({ t: 'op', v: c });
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && !' \t=!><(),'.includes(text[j] as string)) j++;
    tokens.push({ t: 'id', v: text.slice(i, j) });
    i = j;
  }
  return tokens;
}

/** Parses a label selector; throws a 400 ApiError on bad syntax, as the real server does. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const tokens = tokenize(text);
  const reqs: LabelRequirement[] = [];
  let pos = 0;
  const fail = (why: string): never => { throw badRequest(`unable to parse requirement: ${why}`); };
  const peek = (): Token | undefined => tokens[pos];
  const takeId = (what: string): string => {
    const tok = tokens[pos++];
    if (tok?.t !== 'id') return fail(`expected ${what} in "${text}"`);
    return tok.v;
  };
  const checkKey = (key: string): string => (isQualifiedName(key) ? key : fail(`invalid label key "${key}"`));
  const checkValue = (value: string): string => (isLabelValue(value) ? value : fail(`invalid label value "${value}"`));

  while (pos < tokens.length) {
    const first = peek();
    if (first?.t === 'op' && first.v === '!') {
      pos++;
      reqs.push({ key: checkKey(takeId('key')), op: 'notexists' });
    } else {
      const key = checkKey(takeId('key'));
      const next = peek();
      if (next === undefined || (next.t === 'op' && next.v === ',')) {
        reqs.push({ key, op: 'exists' });
      } else if (next.t === 'op' && (next.v === '=' || next.v === '==' || next.v === '!=')) {
        pos++;
        const after = peek();
        let value = '';
        if (after?.t === 'id') { value = after.v; pos++; }
        reqs.push({ key, op: next.v === '!=' ? 'notin' : 'in', values: [checkValue(value)] });
      } else if (next.t === 'op' && (next.v === '>' || next.v === '<')) {
        pos++;
        const raw = takeId('number');
        const value = Number(raw);
        if (!/^-?\d+$/.test(raw)) fail(`for 'Gt', 'Lt' operators, the value must be an integer, got "${raw}"`);
        reqs.push({ key, op: next.v === '>' ? 'gt' : 'lt', value });
      } else if (next.t === 'id' && (next.v === 'in' || next.v === 'notin')) {
        pos++;
        const open = tokens[pos++];
        if (open?.t !== 'op' || open.v !== '(') fail(`expected "(" after "${next.v}"`);
        const values: string[] = [];
        while (true) {
          const tok = tokens[pos++];
          if (tok === undefined) fail('missing ")"');
          else if (tok.t === 'id') values.push(checkValue(tok.v));
          else if (tok.v === ')') break;
          else if (tok.v !== ',') fail(`unexpected "${tok.v}" in value set`);
        }
        if (values.length === 0) fail(`for '${next.v}' operator, values set can't be empty`);
        reqs.push({ key, op: next.v, values });
      } else {
        fail(`unexpected token after "${key}" in "${text}"`);
      }
    }
    const sep = tokens[pos];
    if (sep === undefined) break;
    if (sep.t !== 'op' || sep.v !== ',') fail(`expected "," in "${text}"`);
    pos++;
    if (pos >= tokens.length) fail(`trailing "," in "${text}"`);
  }
  return reqs;
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Labels): boolean {
  for (const req of reqs) {
    const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, req.key);
    const value = has ? labels?.[req.key] : undefined;
    switch (req.op) {
      case 'exists': if (!has) return false; break;
      case 'notexists': if (has) return false; break;
      case 'in': if (value === undefined || !req.values.includes(value)) return false; break;
      case 'notin': if (value !== undefined && req.values.includes(value)) return false; break;
      case 'gt':
      case 'lt': {
        if (value === undefined || !/^-?\d+$/.test(value)) return false;
        const n = Number(value);
        if (req.op === 'gt' ? !(n > req.value) : !(n < req.value)) return false;
        break;
      }
    }
  }
  return true;
}

export interface FieldRequirement {
  field: string;
  value: string;
  negate: boolean;
}

function splitUnescaped(text: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) { cur += c + (text[i + 1] as string); i++; continue; }
    if (c === sep) { parts.push(cur); cur = ''; continue; }
    cur += c;
  }
  parts.push(cur);
  return parts;
}

function unescapeField(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/** Splits `field<op>value` at the first unescaped operator. */
function splitTerm(term: string): { field: string; op: string; value: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    const c = term[i] as string;
    if (c === '\\') { i++; continue; }
    if (c === '!' && term[i + 1] === '=') return { field: term.slice(0, i), op: '!=', value: term.slice(i + 2) };
    if (c === '=') {
      const op = term[i + 1] === '=' ? '==' : '=';
      return { field: term.slice(0, i), op, value: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** Parses a field selector; fields are checked against `supported` (400 "field label not supported"). */
export function parseFieldSelector(text: string, supported: ReadonlySet<string>): FieldRequirement[] {
  if (text.trim() === '') return [];
  return splitUnescaped(text, ',').map((part) => {
    const term = splitTerm(part);
    if (term === undefined) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = unescapeField(term.field).trim();
    if (!supported.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, value: unescapeField(term.value), negate: term.op === '!=' };
  });
}

export function matchesFields(reqs: readonly FieldRequirement[], read: (field: string) => string | undefined): boolean {
  for (const req of reqs) {
    const value = read(req.field) ?? '';
    if (req.negate ? value === req.value : value !== req.value) return false;
  }
  return true;
}
