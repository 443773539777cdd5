import assert from 'node:assert/strict';
import { helper } from './runtime';
import { SonoffSimulator, type SonoffSimOptions } from '../../src/sim/sonoff-sim';
import { mdnsUsers } from '../../src/shared/mdns';

/**
 * Simulated relays that announce themselves over mDNS, for the tests that run
 * inside the private network namespace: `relay(opts)` starts one; after each
 * test the flow is unloaded, the relays stop, and the shared mDNS socket must
 * be closed.
 */
export function mdnsRelays(defaults: SonoffSimOptions = {}): (opts: SonoffSimOptions) => Promise<SonoffSimulator> {
  const sims: SonoffSimulator[] = [];
  afterEach(async () => {
    await helper.unload();
    for (const s of sims.splice(0)) await s.stop();
    assert.equal(mdnsUsers(), 0, 'the shared mDNS socket is closed');
  });
  return async (opts) => {
    const s = new SonoffSimulator({ mdns: true, ...defaults, ...opts });
    await s.start({ port: 0 });
    sims.push(s);
    return s;
  };
}
