import { FakeClock } from './fake-clock';
import { WiimSimulator } from '../../src/sim/wiim-sim';
import { WiimSession, type WiimSessionOptions } from '../../src/sessions/wiim-session';

/**
 * A WiiM simulator for one describe block, and sessions against it on a
 * fresh fake clock per test, closed after each test. Call it at the top of
 * the block: it registers the mocha hooks.
 */
export function wiimSessionFixture(name: string) {
  const sim = new WiimSimulator({ name });
  const fixture = {
    sim,
    port: 0,
    clock: new FakeClock(),
    sessions: [] as WiimSession[],
    /** A session on the fake clock; time waits for its requests to end. */
    open(options: Partial<WiimSessionOptions> = {}): WiimSession {
      // callbackPort 0: tests bind no fixed port outside a network namespace
      const session = new WiimSession({ host: '127.0.0.1', port: fixture.port, protocol: 'https', clock: fixture.clock, callbackPort: 0, ...options });
      fixture.sessions.push(session);
      fixture.clock.busyWhile(() => fixture.sessions.some((s) => s.queue.sending));
      return session;
    },
  };
  before(async () => {
    ({ port: fixture.port } = await sim.start({ port: 0 }));
  });
  after(() => sim.stop());
  beforeEach(() => {
    sim.reset();
    fixture.clock = new FakeClock();
  });
  afterEach(async () => {
    for (const s of fixture.sessions.splice(0)) await s.close();
  });
  return fixture;
}
