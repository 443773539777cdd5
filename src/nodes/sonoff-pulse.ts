import type { Node, NodeAPI, NodeDef } from 'node-red';
import { numberSetting, optionalNumberSetting } from './settings';
import type { OutletChange, PulseRequest, SonoffSession } from '../sessions/sonoff-session';
import { metaOfSnapshot } from './sonoff-message';
import { deviceNode, twoStateStatus } from './device-node';
import { onOffOf, outletOf, widthOf } from './sonoff-values';
import { numberOf } from './values';

/** sonoff-pulse: inching (the relay switches back after a width) on or off. */
interface SonoffPulseDef extends NodeDef {
  device?: string;
  outlet?: string | number;
  width?: string | number;
}

export = function (RED: NodeAPI) {
  function SonoffPulse(this: Node, def: SonoffPulseDef) {
    RED.nodes.createNode(this, def);
    const outlet = numberSetting(def.outlet, 0);
    const nodeWidth = optionalNumberSetting(def.width);

    /** A number: enable with that width; true/false; {pulse, width, switch, outlet}. */
    const parse = (payload: unknown): { outlet: number; setting: PulseRequest } => {
      const bare = numberOf(payload);
      // a bare width means "on for the width, then off", whatever a MINIR3 outlet returned to before
      if (bare !== undefined) return { outlet, setting: { pulse: true, width: bare, switch: 'off' } };
      if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
        const p = payload as { pulse?: unknown; width?: unknown; switch?: unknown; outlet?: unknown };
        const target = p.outlet === undefined ? outlet : outletOf(p.outlet);
        const setting: PulseRequest = { pulse: p.pulse === undefined ? true : onOffOf(p.pulse, 'pulse') };
        const width = p.width === undefined ? nodeWidth : widthOf(p.width);
        if (width !== undefined) setting.width = width;
        if (p.switch !== undefined) setting.switch = onOffOf(p.switch) ? 'on' : 'off';
        return { outlet: target, setting };
      }
      const setting: PulseRequest = { pulse: onOffOf(payload, 'pulse') };
      if (nodeWidth !== undefined) setting.width = nodeWidth;
      return { outlet, setting };
    };

    deviceNode<SonoffSession, OutletChange>(RED, this, {
      type: 'sonoff-pulse',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle: (session, health) =>
        twoStateStatus(session.outletState(outlet)?.pulse, health, { on: 'sonoff-pulse.status.enabled', off: 'sonoff-pulse.status.disabled' }),
      async input(msg, session) {
        const request = parse(msg.payload);
        const snap = await session.setPulse(request.outlet, request.setting);
        const out: Record<string, unknown> = { pulse: snap.state.pulse === true, width: snap.state.pulseWidth };
        if (snap.state.pulseSwitch !== undefined) out.switch = snap.state.pulseSwitch;
        msg.payload = out;
        msg.sonoff = metaOfSnapshot(session.deviceid, snap);
      },
    });
  }
  RED.nodes.registerType('sonoff-pulse', SonoffPulse);
};
