/** sonoff-dimmer: the D1 dimmer; msg.payload is the brightness while on and 0 while off, so a slider follows it. */

import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { OutletSnapshot, SonoffSession, SonoffStateEvent, StateSource } from '../sessions/sonoff-session';
import { outletChange } from '../contract/sonoff-message';
import { dimmerLevel, type SonoffHandle } from '../contract/sonoff-contract';
import { deviceNode, twoStateStatus } from './device-node';

interface SonoffDimmerDef extends NodeDef {
  device?: string;
}

interface DimmerMeta {
  switch?: boolean;
  brightness?: number;
  deviceid: string;
  rssi?: number;
  seq?: number;
  source: StateSource;
}

function metaOf(deviceid: string, snap: OutletSnapshot): DimmerMeta {
  const meta: DimmerMeta = { switch: snap.state.on, brightness: snap.state.brightness, deviceid: snap.device.deviceid ?? deviceid, source: snap.source };
  if (snap.device.rssi !== undefined) meta.rssi = snap.device.rssi;
  if (snap.seq !== undefined) meta.seq = snap.seq;
  return meta;
}

export = function (RED: NodeAPI) {
  function SonoffDimmer(this: Node, def: SonoffDimmerDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;

    const self = deviceNode<SonoffSession, SonoffStateEvent, SonoffHandle>(RED, node, {
      type: 'sonoff-dimmer',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle(session, health) {
        const s = session.outletState(0);
        return twoStateStatus(s?.on, health, { on: `${s?.brightness ?? 100} %`, off: 'sonoff-dimmer.status.off' });
      },
      onState(event, session) {
        const change = outletChange(event, 0, session.seqNumber);
        if (change) node.send({ topic: self.config?.deviceName, payload: dimmerLevel(change), sonoff: metaOf(session.deviceid, change) });
      },
      async input(msg, device, session) {
        const { payload, snapshot } = await device.run('dimmer', msg.payload, { requester: node });
        msg.payload = payload;
        if (snapshot) msg.sonoff = metaOf(session.deviceid, snapshot);
      },
    });
  }
  RED.nodes.registerType('sonoff-dimmer', SonoffDimmer);
};
