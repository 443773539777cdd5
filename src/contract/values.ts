/** A decimal in plain notation: digits, an optional fraction, an optional sign. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/**
 * A number from a message value: a finite number, or a decimal in plain
 * notation as a dashboard or an inject sends it ("12", "-0.5", spaces
 * around); undefined for anything else, so "0x10", "1e1", "Infinity",
 * "12abc" and NaN are refused rather than read as JavaScript would. Both
 * families read numbers in messages through this one function.
 */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && DECIMAL.test(value.trim())) return Number(value.trim());
  return undefined;
}

/**
 * A word for on or off: true/false, 1/0, "on"/"off", "true"/"false", "1"/"0"
 * (any case, spaces around); undefined for anything else. Both families read
 * on/off values in messages through this one function.
 */
export function onOffWord(value: unknown): boolean | undefined {
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'on' || v === 'true' || v === '1') return true;
    if (v === 'off' || v === 'false' || v === '0') return false;
  }
  return undefined;
}
