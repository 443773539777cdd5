import type { Node, NodeAPI, NodeDef } from 'node-red';
import { hostSetting, numberSetting, stringSetting } from './settings';
import { SonoffSession, type SonoffModel } from '../sessions/sonoff-session';
import { SonoffClient, DEFAULT_SONOFF_PORT, DEFAULT_TIMEOUT_MS } from '../sonoff/client';
import { discoverSonoff } from '../sonoff/discovery';
import { serveEditorEndpoints, setupConfigNode } from './config-node';
import { Device } from '../contract/handle';
import { sonoffContract } from '../contract/sonoff-contract';

/** sonoff-config: one SONOFF relay and its session; sonoff-switch, -pulse and -ota nodes use it. */
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
const MODELS: readonly SonoffModel[] = ['auto', 'single', 'multi', 'dimmer', 'meter', 'th'];

/** The credential the editor keeps out of the flow file; never logged, never in a status or output. */
interface SonoffCredentials {
  devicekey?: string;
}

/** What the editor sends for a password it has already saved. */
const SAVED_PASSWORD = '__PWRD__';

export = function (RED: NodeAPI) {
  function SonoffConfig(this: Node<{ devicekey: unknown }>, def: SonoffConfigDef) {
    RED.nodes.createNode(this, def);
    const devicekey = stringSetting(this.credentials?.devicekey) || undefined;
    const host = stringSetting(def.host);
    const deviceid = stringSetting(def.deviceid);
    const model: SonoffModel = MODELS.includes(def.model as SonoffModel) ? (def.model as SonoffModel) : 'auto';
    setupConfigNode(RED, this, {
      type: 'sonoff-config',
      deviceName: stringSetting(def.name) || deviceid || host,
      handle: (setup) => new Device(sonoffContract, setup),
      // a host that is not one throws here and becomes the node's problem
      open: (clock) =>
        new SonoffSession({
          deviceid,
          host: hostSetting(host),
          port: numberSetting(def.port, DEFAULT_SONOFF_PORT),
          model,
          devicekey,
          pollInterval: Math.max(0, numberSetting(def.pollInterval, host ? STATIC_HOST_DEFAULT_POLL_S : 0)),
          offlineAfter: Math.max(1, Math.round(numberSetting(def.offlineAfter, 3))),
          timeoutMs: Math.max(MIN_TIMEOUT_MS, numberSetting(def.timeout, DEFAULT_TIMEOUT_MS)),
          clock,
          name: stringSetting(def.name) || undefined,
        }),
    });
  }
  RED.nodes.registerType('sonoff-config', SonoffConfig, { credentials: { devicekey: { type: 'password' } } });

  /** The key to test with: typed in the form, or the saved one of the node being edited. */
  function testKey(form: Record<string, unknown>): string | undefined {
    const typed = stringSetting(form.devicekey);
    if (typed && typed !== SAVED_PASSWORD) return typed;
    const id = stringSetting(form.id);
    const saved = id ? (RED.nodes.getCredentials(id) as SonoffCredentials | undefined) : undefined;
    return stringSetting(saved?.devicekey) || undefined;
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
        family: d.state?.family,
        state: d.state?.outlets.map((o) => ({ outlet: o.outlet, switch: o.on })) ?? [],
      }));
    },
    async test(form) {
      const host = hostSetting(form.host);
      if (!host) throw new Error('enter a host to test (devices found by mDNS: use Discover)');
      const client = new SonoffClient({
        host,
        port: numberSetting(form.port, DEFAULT_SONOFF_PORT),
        deviceid: stringSetting(form.deviceid),
        timeoutMs: Math.min(TEST_TIMEOUT_MS, numberSetting(form.timeout, TEST_TIMEOUT_MS)),
        devicekey: testKey(form),
      });
      try {
        const { state } = await client.readState();
        return {
          fwVersion: state.fwVersion,
          family: state.family,
          deviceid: state.deviceid,
          state: state.outlets.map((o) => ({ outlet: o.outlet, switch: o.on })),
        };
      } finally {
        void client.close();
      }
    },
  });
};
