import assert from 'node:assert/strict';
import { DeviceError, type DeviceErrorKind } from '../../src/shared/errors';

/** Awaits `p`, which must reject with a DeviceError of `kind` (and `code`, and a message matching `pattern`, when given). */
export async function rejectsWith(p: Promise<unknown>, kind: DeviceErrorKind, pattern?: RegExp, code?: number | string): Promise<DeviceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DeviceError, `expected a DeviceError, got ${String(err)}`);
    assert.equal(err.kind, kind, `kind of "${err.message}"`);
    if (code !== undefined) assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return err;
  }
  assert.fail('expected a rejection');
}

/** `fn` must throw an argument DeviceError (with a message matching `pattern`, when given). */
export function throwsArgument(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof DeviceError && err.kind === 'argument' && (!pattern || pattern.test(err.message)));
}
