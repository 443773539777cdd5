import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { argumentError } from '../shared/errors';
import { stringSetting } from '../shared/settings';
import { loadImage } from '../sonoff/ota';
import type { SonoffSession } from '../sessions/sonoff-session';
import { flashImage, flashUrl, type FlashResult } from '../sessions/sonoff-flash';
import { configOf, type SonoffUser } from './sonoff-common';
import { errorStatus, toError, type Done, type Send } from './node-util';

interface SonoffOtaDef extends NodeDef {
  device?: string;
  firmware?: string;
  sha256?: string;
}

export = function (RED: NodeAPI) {
  function SonoffOta(this: Node, config: SonoffOtaDef) {
    RED.nodes.createNode(this, config);
    // the Node-RED idiom: handlers below close over the node
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const firmware = stringSetting(config.firmware);
    const expected = stringSetting(config.sha256).toLowerCase();
    const cfg = configOf(RED, config.device);
    let flashing = false;

    if (!cfg) {
      node.status({ fill: 'red', shape: 'ring', text: 'sonoff-ota.status.noconfig' });
      node.on('input', (_msg: NodeMessageInFlow, _send: Send, done: Done) => {
        done(new Error('sonoff-ota: no sonoff-config node is selected'));
      });
      return;
    }
    const session: SonoffSession = cfg.session;
    const user: SonoffUser = {
      node,
      health: (h) => {
        if (flashing) return;
        if (h === 'offline') node.status({ fill: 'red', shape: 'ring', text: 'sonoff-ota.status.offline' });
        else node.status({});
      },
      state: () => undefined,
    };
    cfg.register(user);

    const onProgress = (percent: number) => node.status({ fill: 'yellow', shape: 'dot', text: `${percent} %` });

    const run = async (msg: NodeMessageInFlow): Promise<FlashResult> => {
      const p = msg.payload;
      if (Buffer.isBuffer(p)) return flashImage(session, p, { expectedSha256: expected, onProgress });
      if (p && typeof p === 'object' && 'url' in p) {
        const { url, sha256: digest } = p as { url?: unknown; sha256?: unknown };
        // the codec refuses what is not a URL string or a hex digest
        return flashUrl(session, url as string, digest as string);
      }
      const path = typeof p === 'string' && p.trim() !== '' ? p.trim() : firmware;
      if (!path) throw argumentError('give a firmware path, a Buffer or {url, sha256} in msg.payload, or set the firmware path on the node');
      return flashImage(session, await loadImage(path), { expectedSha256: expected, onProgress });
    };

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      if (flashing) {
        done(new Error('sonoff-ota: a flash is already running on this node'));
        return;
      }
      flashing = true;
      node.status({ fill: 'yellow', shape: 'dot', text: 'sonoff-ota.status.working' });
      run(msg).then(
        (result) => {
          flashing = false;
          node.status({ fill: 'green', shape: 'dot', text: 'sonoff-ota.status.done' });
          msg.payload = result;
          send(msg);
          done();
        },
        (err: unknown) => {
          flashing = false;
          node.status(errorStatus('sonoff-ota', err));
          done(toError(err));
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      cfg.deregister(user);
      done();
    });
  }
  RED.nodes.registerType('sonoff-ota', SonoffOta);
};
