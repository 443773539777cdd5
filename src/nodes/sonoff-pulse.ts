/** sonoff-pulse: inching (the relay switches back after a width) on or off. */

import type { Node, NodeAPI, NodeDef } from 'node-red';
import { numberSetting, optionalNumberSetting } from './settings';
import type { SonoffSession, SonoffStateEvent } from '../sessions/sonoff-session';
import type { SonoffHandle } from '../contract/sonoff-contract';
import { metaOfSnapshot } from '../contract/sonoff-message';
import { deviceNode, twoStateStatus } from './device-node';

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

    deviceNode<SonoffSession, SonoffStateEvent, SonoffHandle>(RED, this, {
      type: 'sonoff-pulse',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle: (session, health) =>
        twoStateStatus(session.outletState(outlet)?.pulse, health, { on: 'sonoff-pulse.status.enabled', off: 'sonoff-pulse.status.disabled' }),
      async input(msg, device, session) {
        const { payload, snapshot } = await device.run('pulse', msg.payload, { outlet, width: nodeWidth, requester: this });
        msg.payload = payload;
        if (snapshot) msg.sonoff = metaOfSnapshot(session.deviceid, snapshot);
      },
    });
  }
  RED.nodes.registerType('sonoff-pulse', SonoffPulse);
};
