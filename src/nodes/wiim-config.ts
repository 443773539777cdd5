/** wiim-config: one WiiM device and its session; wiim-command and wiim-status nodes use it. */

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { DeviceError } from '../shared/errors';
import { hostSetting, numberSetting, optionalNumberSetting, stringSetting } from './settings';
import { WiimSession } from '../sessions/wiim-session';
import { WiimClient, type WiimProtocol } from '../wiim/client';
import { discoverWiim } from '../wiim/discovery';
import { serveEditorEndpoints, setupConfigNode } from './config-node';
import { Device } from '../contract/handle';
import { wiimContract } from '../contract/wiim-contract';

interface WiimConfigDef extends NodeDef {
  host: string;
  port: string | number;
  protocol: WiimProtocol;
  timeout: string | number;
  pollPlaying: string | number;
  pollIdle: string | number;
  fingerprint: string;
  /** failures in a row before the device counts as offline; absent in flows saved before it existed */
  offlineAfter?: string | number;
  /** UPnP events (auto|off) and the callback address (empty|host[:port]); absent in older flows */
  events?: string;
  callback?: string;
  /** the device's UPnP description port when it is not 49152 (not in the editor: simulators and odd firmware) */
  upnpPort?: string | number;
}

const protocolOf = (value: unknown): WiimProtocol => (['auto', 'https', 'http'] as const).find((p) => p === value) ?? 'auto';

/** A PEM credential, or nothing (the editor's placeholder for a stored secret is not one). */
const pemOf = (value: unknown): string | undefined => (typeof value === 'string' && value.includes('-----BEGIN') ? value : undefined);

/** The client settings that the node and the Test connection form share; the client certificate comes from the credentials; a host that is not one throws. */
function clientOptions(def: Record<string, unknown>, credentials: Record<string, unknown> = def) {
  return {
    host: hostSetting(def.host),
    port: optionalNumberSetting(def.port),
    protocol: protocolOf(def.protocol),
    timeoutMs: numberSetting(def.timeout, 5000),
    fingerprint: stringSetting(def.fingerprint) || undefined,
    clientCert: pemOf(credentials.clientCert),
    clientKey: pemOf(credentials.clientKey),
  };
}

/** The description URL when the flow names a UPnP port; otherwise the session's default (port 49152). */
function upnpDescription(host: string, port: number | undefined): string | undefined {
  if (port === undefined) return undefined;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/description.xml`;
}

export = function (RED: NodeAPI) {
  function WiimConfig(this: Node, def: WiimConfigDef) {
    RED.nodes.createNode(this, def);
    const credentials = (this as Node & { credentials?: Record<string, unknown> }).credentials ?? {};
    const name = stringSetting(def.name) || stringSetting(def.host);
    setupConfigNode(RED, this, {
      type: 'wiim-config',
      deviceName: name,
      handle: (setup) => new Device(wiimContract, setup),
      open: (clock) => {
        // unusable settings throw here and become the node's problem
        const options = clientOptions(def as unknown as Record<string, unknown>, credentials);
        if (options.host === '') throw new DeviceError('argument', 'the device has no host: enter its address');
        return new WiimSession({
          ...options,
          name,
          pollPlayingMs: numberSetting(def.pollPlaying, 1) * 1000,
          pollIdleMs: numberSetting(def.pollIdle, 5) * 1000,
          offlineAfter: Math.max(1, Math.round(numberSetting(def.offlineAfter, 3))),
          events: def.events === 'off' ? 'off' : 'auto',
          callback: stringSetting(def.callback) || undefined,
          descriptionUrl: upnpDescription(options.host, optionalNumberSetting(def.upnpPort)),
          // tests and users may move the default callback port (runtime setting; 0: the system picks one)
          callbackPort: optionalNumberSetting((RED.settings as { wiimSonoffCallbackPort?: unknown }).wiimSonoffCallbackPort),
          // bound, not closures: a closure here would keep this constructor's scope for the session's life
          log: this.log.bind(this),
          debug: this.debug.bind(this),
          clock,
        });
      },
    });
  }
  RED.nodes.registerType('wiim-config', WiimConfig, { credentials: { clientCert: { type: 'password' }, clientKey: { type: 'password' } } });

  serveEditorEndpoints(RED, 'wiim-config', {
    discover: (timeoutMs) => discoverWiim(timeoutMs),
    async test(form) {
      const client = new WiimClient(clientOptions(form));
      try {
        const { info } = await client.statusEx();
        return { model: info.model, firmware: info.firmware, name: info.name, endpoint: client.endpoint, relaxedTls: client.relaxedTls };
      } finally {
        void client.close();
      }
    },
  });
};
