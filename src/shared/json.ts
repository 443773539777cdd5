import { DeviceError } from './errors';

/**
 * JSON from devices, parsed within a depth limit. JSON.parse itself copes
 * with deep nesting, but everything that walks the value afterwards
 * (JSON.stringify for an excerpt, normalisation) recurses and overflows the
 * stack: a device that answers `[[[[…]]]]` would fail every poll with a
 * RangeError instead of a reply we can call unreadable.
 */

/** Deeper than any device reply (WiiM and SONOFF replies nest a few levels). */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of `[`/`{` in `text` outside strings, stopping once it passes `limit`: one pass, no allocation. */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) break;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/**
 * JSON.parse of a device's reply. Nested deeper than `maxDepth`: DeviceError
 * 'protocol' (an unreadable reply, which the session counts as a bad reply);
 * not JSON: the SyntaxError of JSON.parse, for the caller to describe.
 */
export function parseDeviceJson(text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (jsonDepth(text, maxDepth) > maxDepth) throw new DeviceError('protocol', `the reply is JSON nested deeper than ${maxDepth} levels`);
  return JSON.parse(text);
}
