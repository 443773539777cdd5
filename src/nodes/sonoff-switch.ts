import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { argumentError } from '../shared/errors';
import { numberSetting } from './settings';
import type { OutletChange, OutletSnapshot, SonoffSession } from '../sessions/sonoff-session';
import { infoPayload, metaOfSnapshot } from './sonoff-message';
import { deviceNode, twoStateStatus } from './device-node';
import { onOffOf, outletOf, startupOf, wifiOf } from './sonoff-values';

/** sonoff-switch: switches an outlet, reads it, and reports every change the relay makes on its own. */
interface SonoffSwitchDef extends NodeDef {
  device?: string;
  outlet?: string | number;
  payloadType?: string;
}

export = function (RED: NodeAPI) {
  function SonoffSwitch(this: Node, def: SonoffSwitchDef) {
    RED.nodes.createNode(this, def);
    // the handlers below close over the node, as in the core nodes
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const outlet = numberSetting(def.outlet, 0);
    const value = (on: boolean | undefined) => (on === undefined ? undefined : def.payloadType === 'string' ? (on ? 'on' : 'off') : on);

    /** The message's own topic: startup, signal, info or wifi; undefined for a switch command. */
    const topics: Record<string, (msg: NodeMessageInFlow, session: SonoffSession) => Promise<void>> = {
      async startup(msg, session) {
        const snap = await session.setStartup(outlet, startupOf(msg.payload));
        msg.payload = snap.state.startup;
        msg.sonoff = metaOfSnapshot(session.deviceid, snap);
      },
      async signal(msg, session) {
        msg.payload = await session.signalStrength();
        msg.sonoff = metaOfSnapshot(session.deviceid, session.snapshot(outlet, 'command'));
      },
      async info(msg, session) {
        msg.payload = infoPayload(session.deviceid, await session.readState('refresh'));
        msg.sonoff = metaOfSnapshot(session.deviceid, session.snapshot(outlet, 'refresh'));
      },
      async led(msg, session) {
        const snap = await session.setLed(onOffOf(msg.payload, 'led'));
        msg.payload = snap.device.led;
        msg.sonoff = metaOfSnapshot(session.deviceid, snap);
      },
      async wifi(msg, session) {
        const p = (msg.payload && typeof msg.payload === 'object' ? msg.payload : {}) as { ssid?: unknown; password?: unknown };
        // the password never travels on: not in the output, nor in the message a Catch node gets
        msg.payload = { ssid: p.ssid };
        const wifi = wifiOf(p);
        await session.setWifi(wifi.ssid, wifi.password);
        msg.payload = true;
      },
    };

    /** A switch command: true/false, 1/0, "on"/"off", "toggle", {switch, outlet}, or nothing/"status" to read. */
    const switchOutlet = async (msg: NodeMessageInFlow, session: SonoffSession): Promise<void> => {
      let target = outlet;
      let wanted: unknown = msg.payload;
      if (wanted && typeof wanted === 'object' && !Buffer.isBuffer(wanted)) {
        const p = wanted as { switch?: unknown; outlet?: unknown };
        if (p.outlet !== undefined) target = outletOf(p.outlet);
        if (p.switch === undefined) throw argumentError('an object payload needs a "switch" property ("on"/"off" or a boolean)');
        wanted = p.switch;
      }
      const text = typeof wanted === 'string' ? wanted.trim().toLowerCase() : undefined;
      let snap: OutletSnapshot;
      if (wanted === undefined || wanted === null || text === '' || text === 'status') {
        snap = await session.read(target);
      } else if (text === 'toggle') snap = await session.toggle(target);
      else snap = await session.setSwitch(target, onOffOf(wanted));
      msg.payload = value(snap.state.on);
      msg.sonoff = metaOfSnapshot(session.deviceid, snap);
    };

    const self = deviceNode<SonoffSession, OutletChange>(RED, node, {
      type: 'sonoff-switch',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle: (session, health) => twoStateStatus(session.outletState(outlet)?.on, health, { on: 'sonoff-switch.status.on', off: 'sonoff-switch.status.off' }),
      onState(change, session) {
        // commands and reads that a message asked for answer through that message; the first
        // state the session learns is sent too, so that a dashboard wired to this node starts right
        if (change.outlet !== outlet || change.source === 'command' || change.source === 'refresh') return;
        node.send({ topic: self.config?.deviceName, payload: value(change.state.on), sonoff: metaOfSnapshot(session.deviceid, change) });
      },
      async input(msg, session) {
        const topic = typeof msg.topic === 'string' ? msg.topic.trim().toLowerCase() : '';
        await (Object.hasOwn(topics, topic) ? topics[topic] : switchOutlet)(msg, session);
      },
    });
  }
  RED.nodes.registerType('sonoff-switch', SonoffSwitch);
};
