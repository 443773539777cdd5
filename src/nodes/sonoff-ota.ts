/** sonoff-ota: flashes a firmware image (a path, a Buffer, or {url, sha256} on the user's own server). */

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { argumentError } from '../shared/errors';
import { stringSetting } from './settings';
import { loadImage } from '../sonoff/ota';
import { flashImage, flashUrl } from '../sessions/sonoff-flash';
import type { SonoffSession, SonoffStateEvent } from '../sessions/sonoff-session';
import { deviceNode, type DeviceNode } from './device-node';
import { otaUrlOf } from '../contract/sonoff-values';

interface SonoffOtaDef extends NodeDef {
  device?: string;
  firmware?: string;
  sha256?: string;
}

export = function (RED: NodeAPI) {
  function SonoffOta(this: Node, def: SonoffOtaDef) {
    RED.nodes.createNode(this, def);
    const firmware = stringSetting(def.firmware);
    const expectedSha256 = stringSetting(def.sha256).toLowerCase();
    let flashing = false;

    const self: DeviceNode<SonoffStateEvent, unknown> = deviceNode<SonoffSession, SonoffStateEvent, unknown>(RED, this, {
      type: 'sonoff-ota',
      configType: 'sonoff-config',
      device: def.device,
      // the relay's address comes from its session (mDNS when no host is set)
      subscribe: true,
      idle: (_session, health) => (health === 'offline' ? undefined : {}),
      async input(msg, _device, session) {
        if (flashing) throw new Error('sonoff-ota: a flash is already running on this node');
        flashing = true;
        try {
          const onProgress = (percent: number) => self.status({ fill: 'yellow', shape: 'dot', text: `${percent} %` });
          const p = msg.payload;
          if (Buffer.isBuffer(p)) msg.payload = await flashImage(session, p, { expectedSha256, onProgress });
          else if (p && typeof p === 'object' && 'url' in p) {
            const { url, sha256 } = otaUrlOf(p as { url?: unknown; sha256?: unknown });
            msg.payload = await flashUrl(session, url, sha256);
          } else {
            // a regular file, absolute or relative to Node-RED's working directory (loadImage refuses anything else)
            const path = typeof p === 'string' && p.trim() !== '' ? p.trim() : firmware;
            if (!path) throw argumentError('give a firmware path, a Buffer or {url, sha256} in msg.payload, or set the firmware path on the node');
            msg.payload = await flashImage(session, await loadImage(path), { expectedSha256, onProgress });
          }
          return self.shared('done');
        } finally {
          flashing = false;
        }
      },
    });
  }
  RED.nodes.registerType('sonoff-ota', SonoffOta);
};
