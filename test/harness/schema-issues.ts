// Reading zod issues the way the stand-ins report them: a property path such as
// `value[1].resourceFiles[0].sasToken`, and one line per problem of an answer that drifts.
import type { z } from 'zod';

/** `['value', 1, 'resourceFiles']` as `value[1].resourceFiles`. */
export function issuePath(path: PropertyKey[]): string {
  return path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
}

/**
 * Problems of a body against its definition, one line each (empty when it conforms).
 *
 * @example
 * responseDrift(CloudJob, await (await fetch(url)).json()); // [] or ['state: Expected one of ...']
 */
export function responseDrift(schema: z.ZodType, body: unknown): string[] {
  const r = schema.safeParse(body);
  return r.success
    ? []
    : r.error.issues.map((i) => `${issuePath(i.path) || 'body'}: ${i.code === 'unrecognized_keys' ? `unknown ${i.keys.join(', ')}` : i.message}`);
}
