import { optionalNumberSetting } from './settings';

/**
 * A number from a message value: a number, or a numeric string as a
 * dashboard or an inject sends it; undefined for anything else. Both
 * families read numbers in messages through this one function.
 */
export function numberOf(value: unknown): number | undefined {
  return optionalNumberSetting(value);
}
