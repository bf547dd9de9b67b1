// The OData subset Batch list operations take: `$filter` comparisons joined with and/or/not,
// `startswith(prop,'x')`, and `$select` of top-level properties.
import { ServiceError } from './validate.js';

type Pred = (o: Record<string, unknown>) => boolean;

function badFilter(filter: string, why: string): ServiceError {
  return new ServiceError(400, 'InvalidQueryParameterValue', 'The value for one of the query parameters specified in the request URI is invalid.', [
    { key: 'QueryParameterName', value: '$filter' },
    { key: 'QueryParameterValue', value: filter },
    { key: 'Reason', value: why },
  ]);
}

function tokenize(s: string, filter: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:('(?:[^']|'')*')|(\()|(\))|(,)|([A-Za-z_][A-Za-z0-9_/]*)|(-?\d+(?:\.\d+)?))/y;
  let i = 0;
  while (i < s.length) {
    if (/^\s*$/.test(s.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m) throw badFilter(filter, `Unexpected text at ${i}`);
    out.push(m[0].trim());
    i = re.lastIndex;
  }
  return out;
}

function lookup(o: Record<string, unknown>, path: string): unknown {
  let v: unknown = o;
  for (const p of path.split('/')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

function literal(tok: string | undefined, filter: string): unknown {
  if (tok === undefined) throw badFilter(filter, 'Expected a value');
  if (tok.startsWith("'")) return tok.slice(1, -1).replace(/''/g, "'");
  if (tok === 'true' || tok === 'false') return tok === 'true';
  if (tok === 'null') return null;
  if (/^-?\d/.test(tok)) return Number(tok);
  throw badFilter(filter, `Expected a value but found ${tok}`);
}

/** Compiles a `$filter` expression into a predicate over the JSON objects the list returns. */
export function compileFilter(filter: string | null | undefined): Pred {
  if (!filter) return () => true;
  const toks = tokenize(filter, filter);
  let i = 0;
  const peek = () => toks[i];
  const take = (expect?: string) => {
    const t = toks[i++];
    if (expect !== undefined && t !== expect) throw badFilter(filter, `Expected ${expect} but found ${t ?? 'the end'}`);
    return t;
  };
  const orExpr = (): Pred => {
    let l = andExpr();
    while (peek()?.toLowerCase() === 'or') {
      take();
      const a = l, b = andExpr();
      l = (o) => a(o) || b(o);
    }
    return l;
  };
  const andExpr = (): Pred => {
    let l = unary();
    while (peek()?.toLowerCase() === 'and') {
      take();
      const a = l, b = unary();
      l = (o) => a(o) && b(o);
    }
    return l;
  };
  const unary = (): Pred => {
    const t = peek();
    if (t?.toLowerCase() === 'not') {
      take();
      const p = unary();
      return (o) => !p(o);
    }
    if (t === '(') {
      take();
      const p = orExpr();
      take(')');
      return p;
    }
    if (t?.toLowerCase() === 'startswith') {
      take();
      take('(');
      const prop = take()!;
      take(',');
      const v = String(literal(take(), filter));
      take(')');
      return (o) => String(lookup(o, prop) ?? '').startsWith(v);
    }
    const prop = take();
    if (!prop || !/^[A-Za-z_]/.test(prop)) throw badFilter(filter, `Expected a property name but found ${prop ?? 'the end'}`);
    const op = take()?.toLowerCase();
    const v = literal(take(), filter);
    const cmp = (a: unknown): number => {
      if (typeof a === 'number' && typeof v === 'number') return a - v;
      return String(a ?? '').localeCompare(String(v ?? ''));
    };
    switch (op) {
      case 'eq':
        return (o) => lookup(o, prop) === v || (typeof v === 'string' && String(lookup(o, prop) ?? '').toLowerCase() === v.toLowerCase());
      case 'ne':
        return (o) => lookup(o, prop) !== v;
      case 'gt':
        return (o) => lookup(o, prop) !== undefined && cmp(lookup(o, prop)) > 0;
      case 'ge':
        return (o) => lookup(o, prop) !== undefined && cmp(lookup(o, prop)) >= 0;
      case 'lt':
        return (o) => lookup(o, prop) !== undefined && cmp(lookup(o, prop)) < 0;
      case 'le':
        return (o) => lookup(o, prop) !== undefined && cmp(lookup(o, prop)) <= 0;
      default:
        throw badFilter(filter, `Unknown operator ${op ?? '(none)'}`);
    }
  };
  const pred = orExpr();
  if (i !== toks.length) throw badFilter(filter, `Unexpected ${toks[i]}`);
  return pred;
}

/** Keeps only the `$select`ed top-level properties (all of them without `$select`). */
export function applySelect<T extends Record<string, unknown>>(o: T, select: string | null | undefined): Partial<T> {
  if (!select) return o;
  const keep = select.split(',').map((s) => s.trim()).filter(Boolean);
  const out: Record<string, unknown> = {};
  for (const k of keep) if (o[k] !== undefined) out[k] = o[k];
  return out as Partial<T>;
}
