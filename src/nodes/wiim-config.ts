import type { Node, NodeAPI, NodeDef } from 'node-red';
import { DeviceError } from '../shared/errors';
import { numberSetting, optionalNumberSetting, stringSetting } from '../shared/settings';
import { WiimSession } from '../sessions/wiim-session';
import { WiimClient, type WiimProtocol } from '../wiim/client';
import { discoverWiim } from '../wiim/discovery';
import { serveEditorEndpoints, setupConfigNode } from './config-node';

/** wiim-config: one WiiM device and its session; wiim-command and wiim-status nodes use it. */
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

/** The client settings that the node and the Test connection form share. */
function clientOptions(def: Record<string, unknown>) {
  return {
    host: stringSetting(def.host),
    port: optionalNumberSetting(def.port),
    protocol: protocolOf(def.protocol),
    timeoutMs: numberSetting(def.timeout, 5000),
    fingerprint: stringSetting(def.fingerprint) || undefined,
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
    const options = clientOptions(def as unknown as Record<string, unknown>);
    setupConfigNode(RED, this, {
      type: 'wiim-config',
      deviceName: stringSetting(def.name) || options.host,
      open: (clock) => {
        if (options.host === '') throw new DeviceError('argument', 'the device has no host: enter its address');
        return new WiimSession({
          ...options,
          name: stringSetting(def.name) || options.host,
          pollPlayingMs: numberSetting(def.pollPlaying, 1) * 1000,
          pollIdleMs: numberSetting(def.pollIdle, 5) * 1000,
          offlineAfter: Math.max(1, Math.round(numberSetting(def.offlineAfter, 3))),
          events: def.events === 'off' ? 'off' : 'auto',
          callback: stringSetting(def.callback) || undefined,
          descriptionUrl: upnpDescription(options.host, optionalNumberSetting(def.upnpPort)),
          log: (message) => this.log(message),
          clock,
        });
      },
    });
  }
  RED.nodes.registerType('wiim-config', WiimConfig);

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
