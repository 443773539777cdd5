/**
 * Editor fields arrive as strings ("8081"), flows written by hand as numbers.
 * Both are accepted; anything else falls back to the default.
 */
export function numberSetting(value: unknown, fallback: number): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value.trim());
    if (Number.isFinite(n)) return n;
  }
  return fallback;
}

/** Like numberSetting, but undefined when the field is empty or not numeric. */
export function optionalNumberSetting(value: unknown): number | undefined {
  const n = numberSetting(value, Number.NaN);
  return Number.isNaN(n) ? undefined : n;
}

export function stringSetting(value: unknown): string {
  return typeof value === 'string' ? value.trim() : value === undefined || value === null ? '' : String(value).trim();
}
