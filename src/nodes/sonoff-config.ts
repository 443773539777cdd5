/** sonoff-config: one SONOFF relay and its session; sonoff-switch, -pulse and -ota nodes use it. */

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { hostSetting, numberSetting, stringSetting } from './settings';
import { SonoffSession, type SonoffModel } from '../sessions/sonoff-session';
import type { SonoffState } from '../sonoff/state';
import { SonoffClient, DEFAULT_SONOFF_PORT, DEFAULT_TIMEOUT_MS } from '../sonoff/client';
import { discoverSonoff } from '../sonoff/discovery';
import { serveEditorEndpoints, sessionOf, setupConfigNode } from './config-node';
import { Device } from '../contract/handle';
import { sonoffContract } from '../contract/sonoff-contract';

interface SonoffConfigDef extends NodeDef {
  deviceid?: string;
  host?: string;
  port?: string | number;
  model?: string;
  pollInterval?: string | number;
  /** ms per request; absent in flows saved before it existed */
  timeout?: string | number;
  /** failures in a row before the device counts as offline; absent in flows saved before it existed */
  offlineAfter?: string | number;
}

/** Static host without a poll setting: poll this often, since no mDNS push reaches us. */
const STATIC_HOST_DEFAULT_POLL_S = 10;
const TEST_TIMEOUT_MS = 4000;
const MIN_TIMEOUT_MS = 500;
const MODELS: readonly SonoffModel[] = ['auto', 'single', 'multi', 'dimmer', 'meter', 'powr2', 'powr3', 'th'];

/** The credential the editor keeps out of the flow file; never logged, never in a status or output. */
interface SonoffCredentials {
  devicekey?: string;
}

/** What the editor sends for a password it has already saved. */
const SAVED_PASSWORD = '__PWRD__';

/**
 * The model setting that the nodes use for what the device reports: its kind
 * (dimmer, meter, th) over its channel family, as the session decides it.
 * An encrypted POWR3 reports a single relay's data with its readings: meter.
 */
function modelOf(state: SonoffState | undefined): SonoffModel | undefined {
  const kind = state?.kind;
  return kind && kind !== 'relay' ? kind : state?.family;
}

/** The device a deployed sonoff-config was saved with: where its saved devicekey may go. */
interface SavedDevice {
  host: string;
  port: number;
  deviceid: string;
  session: SonoffSession | undefined;
}

export = function (RED: NodeAPI) {
  function SonoffConfig(this: Node<{ devicekey: unknown }>, def: SonoffConfigDef) {
    RED.nodes.createNode(this, def);
    const devicekey = stringSetting(this.credentials?.devicekey) || undefined;
    const host = stringSetting(def.host);
    const deviceid = stringSetting(def.deviceid);
    const model: SonoffModel = MODELS.includes(def.model as SonoffModel) ? (def.model as SonoffModel) : 'auto';
    const port = numberSetting(def.port, DEFAULT_SONOFF_PORT);
    setupConfigNode(RED, this, {
      type: 'sonoff-config',
      deviceName: stringSetting(def.name) || deviceid || host,
      handle: (setup) => new Device(sonoffContract, setup),
      // a host that is not one throws here and becomes the node's problem
      open: (clock) =>
        new SonoffSession({
          deviceid,
          host: hostSetting(host),
          port,
          model,
          devicekey,
          pollInterval: Math.max(0, numberSetting(def.pollInterval, host ? STATIC_HOST_DEFAULT_POLL_S : 0)),
          offlineAfter: Math.max(1, Math.round(numberSetting(def.offlineAfter, 3))),
          timeoutMs: Math.max(MIN_TIMEOUT_MS, numberSetting(def.timeout, DEFAULT_TIMEOUT_MS)),
          clock,
          name: stringSetting(def.name) || undefined,
          // bound, not a closure: a closure here would keep this constructor's scope (the devicekey among it) for the session's life
          debug: this.debug.bind(this),
        }),
    });
    const self = this as unknown as { savedDevice?: SavedDevice };
    const session = sessionOf<SonoffSession>(this);
    // no session: the host was not one (the node's problem), and the saved key goes nowhere
    if (session) self.savedDevice = { host: hostSetting(host), port, deviceid, session };
  }
  RED.nodes.registerType('sonoff-config', SonoffConfig, { credentials: { devicekey: { type: 'password' } } });

  /**
   * Where Test connection goes, and with which key: the key typed in the
   * form goes to the host in the form; the saved key of the node being edited
   * (the editor sends SAVED_PASSWORD for it) goes only to that node's saved
   * host and port, or to where its session found its deviceid. Any other host needs its key typed in the same form,
   * else nothing is sent: write permission alone does not lend the stored key
   * to a host of the caller's choosing.
   */
  function testTarget(form: Record<string, unknown>): { host: string; port: number; devicekey: string | undefined } {
    const host = hostSetting(form.host);
    const port = numberSetting(form.port, DEFAULT_SONOFF_PORT);
    const typed = stringSetting(form.devicekey);
    const id = stringSetting(form.id);
    const savedKey = typed === SAVED_PASSWORD && id ? stringSetting((RED.nodes.getCredentials(id) as SonoffCredentials | undefined)?.devicekey) : '';
    if (!savedKey) {
      if (!host) throw new Error('enter a host to test (devices found by mDNS: use Discover)');
      return { host, port, devicekey: typed && typed !== SAVED_PASSWORD ? typed : undefined };
    }
    const saved = (RED.nodes.getNode(id) as { savedDevice?: SavedDevice } | null)?.savedDevice;
    const found = saved?.deviceid && stringSetting(form.deviceid) === saved.deviceid ? saved.session?.address : undefined;
    if (!host && found) return { ...found, devicekey: savedKey };
    if (!host) throw new Error('enter a host to test (devices found by mDNS: use Discover)');
    const same = (a: { host: string; port: number } | undefined) => a !== undefined && a.host === host && a.port === port;
    if (saved && (same(saved.host ? saved : undefined) || same(found))) return { host, port, devicekey: savedKey };
    throw new Error(`the saved devicekey is only for the saved device; to test ${host}:${port}, enter its devicekey`);
  }

  serveEditorEndpoints(RED, 'sonoff-config', {
    async discover(timeoutMs) {
      const devices = await discoverSonoff(timeoutMs);
      return devices.map((d) => ({
        deviceid: d.deviceid,
        name: d.name,
        type: d.type,
        host: d.host,
        port: d.port,
        encrypted: d.encrypted,
        // stock firmware in LAN mode: usable once its devicekey is entered
        needsKey: d.encrypted,
        model: modelOf(d.state),
        state: d.state?.outlets.map((o) => ({ outlet: o.outlet, switch: o.on })) ?? [],
      }));
    },
    async test(form) {
      const target = testTarget(form);
      const client = new SonoffClient({
        ...target,
        deviceid: stringSetting(form.deviceid),
        timeoutMs: Math.min(TEST_TIMEOUT_MS, numberSetting(form.timeout, TEST_TIMEOUT_MS)),
      });
      try {
        const { state } = await client.readState();
        return {
          fwVersion: state.fwVersion,
          model: modelOf(state),
          deviceid: state.deviceid,
          state: state.outlets.map((o) => ({ outlet: o.outlet, switch: o.on })),
        };
      } finally {
        void client.close();
      }
    },
  });
};
