import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { argumentError } from '../shared/errors';
import type { OutletChange, OutletSnapshot, SonoffSession, StateSource } from '../sessions/sonoff-session';
import { deviceNode, twoStateStatus } from './device-node';
import { brightnessOf, onOffOf } from './sonoff-values';
import { numberOf } from './values';

/** sonoff-dimmer: the D1 dimmer; msg.payload is the brightness while on and 0 while off, so a slider follows it. */
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

/** What a slider shows: the brightness while on, 0 while off. */
function level(snap: OutletSnapshot): number | undefined {
  if (snap.state.on === undefined) return undefined;
  return snap.state.on ? (snap.state.brightness ?? 100) : 0;
}

export = function (RED: NodeAPI) {
  function SonoffDimmer(this: Node, def: SonoffDimmerDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;

    /** true/false/"on"/"off"/"toggle", a brightness 0–100, {switch, brightness}, or nothing/"status" to read. */
    const run = (payload: unknown, session: SonoffSession): Promise<OutletSnapshot> => {
      if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
        const p = payload as { switch?: unknown; brightness?: unknown };
        if (p.switch === undefined && p.brightness === undefined) throw argumentError('an object payload needs "switch" and/or "brightness"');
        const on = p.switch === undefined ? true : onOffOf(p.switch);
        if (!on) return session.setSwitch(0, false);
        return p.brightness === undefined ? session.setSwitch(0, true) : session.setBrightness(brightnessOf(p.brightness));
      }
      const text = typeof payload === 'string' ? payload.trim().toLowerCase() : undefined;
      if (payload === undefined || payload === null || text === '' || text === 'status') return session.read(0);
      if (text === 'toggle') return session.toggle(0);
      if (typeof payload === 'number' || (text !== undefined && numberOf(text) !== undefined)) return session.setBrightness(brightnessOf(payload));
      return session.setSwitch(0, onOffOf(payload));
    };

    const self = deviceNode<SonoffSession, OutletChange>(RED, node, {
      type: 'sonoff-dimmer',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle(session, health) {
        const s = session.outletState(0);
        return twoStateStatus(s?.on, health, { on: `${s?.brightness ?? 100} %`, off: 'sonoff-dimmer.status.off' });
      },
      onState(change, session) {
        // what a message asked for answers through that message
        if (change.outlet !== 0 || change.source === 'command' || change.source === 'refresh') return;
        node.send({ topic: self.config?.deviceName, payload: level(change), sonoff: metaOf(session.deviceid, change) });
      },
      async input(msg: NodeMessageInFlow, session) {
        const snap = await run(msg.payload, session);
        msg.payload = level(snap);
        msg.sonoff = metaOf(session.deviceid, snap);
      },
    });
  }
  RED.nodes.registerType('sonoff-dimmer', SonoffDimmer);
};
