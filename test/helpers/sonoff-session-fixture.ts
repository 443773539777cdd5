import { FakeClock } from './fake-clock';
import { SonoffSimulator, type SonoffSimOptions } from '../../src/sim/sonoff-sim';
import { SonoffSession, type SonoffSessionOptions } from '../../src/sessions/sonoff-session';

/** A started relay simulator and a session to it on a new fake clock, which waits for requests on the wire. No polling unless asked. */
export async function sonoffSessionOnFakeClock(
  simOptions: SonoffSimOptions & { deviceid: string },
  options: Partial<SonoffSessionOptions> = {},
): Promise<{ sim: SonoffSimulator; session: SonoffSession; clock: FakeClock }> {
  const sim = new SonoffSimulator(simOptions);
  const { port } = await sim.start();
  const clock = new FakeClock();
  const session = new SonoffSession({ deviceid: simOptions.deviceid, host: '127.0.0.1', port, model: 'auto', pollInterval: 0, clock, ...options });
  clock.busyWhile(() => session.queue.sending);
  return { sim, session, clock };
}
