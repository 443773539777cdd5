import { lookup } from 'node:dns/promises';
import net from 'node:net';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { DeviceError, argumentError } from '../shared/errors';
import { encodeOtaFlash } from '../sonoff/codec';
import { stringSetting } from '../shared/settings';
import { FirmwareServer, checkImage, loadImage, sha256 } from '../sonoff/ota';
import type { SonoffSession } from '../sessions/sonoff-session';
import { configOf, type SonoffUser } from './sonoff-common';
import { errorStatus, toError, type Done, type Send } from './node-util';

interface SonoffOtaDef extends NodeDef {
  device?: string;
  firmware?: string;
  sha256?: string;
}


interface OtaResult {
  status: 'done';
  bytes: number | null;
  sha256: string;
  fwVersion?: string;
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
    let server: FirmwareServer | undefined;

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

    const deviceAddress = async (): Promise<string> => {
      // `info` first: proves the device answers, and resolves an mDNS address
      await session.readState('poll');
      const host = session.address?.host;
      if (!host) throw new DeviceError('offline', 'the device address is not known');
      if (net.isIP(host)) return host;
      return (await lookup(host, { family: 4 })).address;
    };

    const flashLocal = async (image: Buffer): Promise<OtaResult> => {
      checkImage(image);
      const digest = sha256(image);
      if (expected && expected !== digest) throw argumentError(`the image's SHA-256 ${digest} does not match the sha256 setting ${expected}`);
      const address = await deviceAddress();
      let lastPercent = -1;
      server = new FirmwareServer({
        image,
        allow: address,
        onProgress: (bytes, total) => {
          const percent = Math.min(100, Math.floor((bytes * 100) / total));
          if (percent === lastPercent) return;
          lastPercent = percent;
          node.status({ fill: 'yellow', shape: 'dot', text: `${percent} %` });
        },
      });
      try {
        const url = await server.start();
        await session.otaUnlock();
        await session.otaFlash(url, digest);
      } finally {
        await server.close();
        server = undefined;
      }
      return { status: 'done', bytes: image.length, sha256: digest };
    };

    const flashRemote = async (url: unknown, digest: unknown): Promise<OtaResult> => {
      if (typeof digest !== 'string' || !/^[0-9a-fA-F]{64}$/.test(digest)) throw argumentError('{url, sha256}: sha256 must be 64 hexadecimal digits');
      // refuse a bad URL before the device is unlocked for a flash that cannot happen
      encodeOtaFlash(url, digest);
      await session.readState('poll');
      await session.otaUnlock();
      await session.otaFlash(String(url), digest);
      return { status: 'done', bytes: null, sha256: digest.toLowerCase() };
    };

    const run = async (msg: NodeMessageInFlow): Promise<OtaResult> => {
      const p = msg.payload;
      let result: OtaResult;
      if (Buffer.isBuffer(p)) result = await flashLocal(p);
      else if (p && typeof p === 'object' && 'url' in p) {
        const { url, sha256: digest } = p as { url?: unknown; sha256?: unknown };
        result = await flashRemote(url, digest);
      } else {
        const path = typeof p === 'string' && p.trim() !== '' ? p.trim() : firmware;
        if (!path) throw argumentError('give a firmware path, a Buffer or {url, sha256} in msg.payload, or set the firmware path on the node');
        result = await flashLocal(await loadImage(path));
      }
      // the new version, if the device answers before it restarts
      const fw = await session.readState('poll').then(
        (s) => s.fwVersion,
        () => undefined,
      );
      if (fw) result.fwVersion = fw;
      return result;
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
      const closing = server ? server.close() : Promise.resolve();
      closing.then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('sonoff-ota', SonoffOta);
};
