/**
 * Text that goes to a device, and values quoted back in refusals: one
 * definition for both families.
 */

/** Control characters (C0, DEL, C1): never sent to a device. */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** A value as a refusal quotes it: JSON, except what JSON cannot write (NaN, Infinity, undefined), which would read as "null". */
export function quoted(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}
