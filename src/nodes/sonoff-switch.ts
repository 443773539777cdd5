/** sonoff-switch: switches an outlet, reads it, and reports every change the relay makes on its own. */

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { numberSetting } from './settings';
import type { SonoffSession, SonoffStateEvent } from '../sessions/sonoff-session';
import type { SonoffHandle } from '../contract/sonoff-contract';
import { metaOfSnapshot, outletChange } from '../contract/sonoff-message';
import { deviceNode, twoStateStatus } from './device-node';

interface SonoffSwitchDef extends NodeDef {
  device?: string;
  outlet?: string | number;
  payloadType?: string;
}

/** The topics that are commands of their own; any other message is a switch command. */
const TOPICS = new Set(['startup', 'signal', 'info', 'led', 'wifi']);

export = function (RED: NodeAPI) {
  function SonoffSwitch(this: Node, def: SonoffSwitchDef) {
    RED.nodes.createNode(this, def);
    // the handlers below close over the node, as in the core nodes
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const outlet = numberSetting(def.outlet, 0);
    const value = (on: boolean | undefined) => (on === undefined ? undefined : def.payloadType === 'string' ? (on ? 'on' : 'off') : on);

    const self = deviceNode<SonoffSession, SonoffStateEvent, SonoffHandle>(RED, node, {
      type: 'sonoff-switch',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle: (session, health) => twoStateStatus(session.outletState(outlet)?.on, health, { on: 'sonoff-switch.status.on', off: 'sonoff-switch.status.off' }),
      onState(event, session) {
        // the first state the session learns is sent too, so that a dashboard wired to this node starts right
        const change = outletChange(event, outlet, session.seqNumber);
        if (change) node.send({ topic: self.config?.deviceName, payload: value(change.state.on), sonoff: metaOfSnapshot(session.deviceid, change) });
      },
      async input(msg, device, session) {
        const topic = typeof msg.topic === 'string' ? msg.topic.trim().toLowerCase() : '';
        const command = TOPICS.has(topic) ? topic : 'switch';
        const wanted = msg.payload;
        // the password never travels on: not in the output, nor in the message a Catch node gets
        if (command === 'wifi') msg.payload = { ssid: (wanted as { ssid?: unknown } | null | undefined)?.ssid };
        const result = await device.run(command, wanted, { outlet, requester: node });
        msg.payload = result.command === 'switch' ? value(result.payload) : result.payload;
        if (result.snapshot) msg.sonoff = metaOfSnapshot(session.deviceid, result.snapshot);
      },
    });
  }
  RED.nodes.registerType('sonoff-switch', SonoffSwitch);
};
