import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { argumentError } from '../shared/errors';
import { numberSetting } from '../shared/settings';
import { toOnOff, type StartupValue } from '../sonoff/codec';
import type { OutletChange, OutletSnapshot } from '../sessions/sonoff-session';
import { configOf, infoPayload, metaOfSnapshot, sonoffMeta, type SonoffConfigNode, type SonoffUser } from './sonoff-common';
import { errorStatus, toError, type Done, type Send } from './node-util';

interface SonoffSwitchDef extends NodeDef {
  device?: string;
  outlet?: string | number;
  payloadType?: string;
}

export = function (RED: NodeAPI) {
  function SonoffSwitch(this: Node, config: SonoffSwitchDef) {
    RED.nodes.createNode(this, config);
    // the Node-RED idiom: handlers below close over the node
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const outlet = numberSetting(config.outlet, 0);
    const asString = config.payloadType === 'string';
    const cfg: SonoffConfigNode | undefined = configOf(RED, config.device);
    let busy = 0;

    const value = (on: boolean | undefined): boolean | string | undefined => (on === undefined ? undefined : asString ? (on ? 'on' : 'off') : on);

    const showState = () => {
      if (!cfg) return;
      const session = cfg.session;
      if (session.health === 'offline') {
        node.status({ fill: 'red', shape: 'ring', text: 'sonoff-switch.status.offline' });
        return;
      }
      if (busy > 0) {
        node.status({ fill: 'yellow', shape: 'dot', text: 'sonoff-switch.status.working' });
        return;
      }
      const on = session.outletState(outlet)?.on;
      if (on === true) node.status({ fill: 'green', shape: 'dot', text: 'sonoff-switch.status.on' });
      else if (on === false) node.status({ fill: 'grey', shape: 'ring', text: 'sonoff-switch.status.off' });
      else if (session.health === 'online') node.status({ fill: 'green', shape: 'dot', text: 'sonoff-switch.status.online' });
      else node.status({ fill: 'yellow', shape: 'ring', text: 'sonoff-switch.status.connecting' });
    };

    if (!cfg) {
      node.status({ fill: 'red', shape: 'ring', text: 'sonoff-switch.status.noconfig' });
      node.on('input', (_msg: NodeMessageInFlow, _send: Send, done: Done) => {
        done(new Error('sonoff-switch: no sonoff-config node is selected'));
      });
      return;
    }
    const session = cfg.session;
    const deviceid = cfg.deviceid;

    const user: SonoffUser = {
      node,
      health: () => showState(),
      state: (change: OutletChange) => {
        showState();
        // our own commands answer through their input message
        if (change.outlet !== outlet || change.source === 'command' || change.initial) return;
        node.send({ topic: cfg.name || deviceid, payload: value(change.state.on), sonoff: metaOfSnapshot(deviceid, change) });
      },
    };
    cfg.register(user);

    const run = async (msg: NodeMessageInFlow): Promise<void> => {
      const topic = typeof msg.topic === 'string' ? msg.topic.trim().toLowerCase() : '';
      const payload = msg.payload;
      if (topic === 'startup') {
        // the session refuses what is not "on", "off" or "stay"
        const snap = await session.setStartup(outlet, payload as StartupValue);
        msg.payload = snap.state.startup;
        msg.sonoff = metaOfSnapshot(deviceid, snap);
        return;
      }
      if (topic === 'signal') {
        msg.payload = await session.signalStrength();
        msg.sonoff = sonoffMeta(deviceid, session.outletState(outlet) ?? { outlet }, session.state ?? { outlets: [] }, 'command', session.seqNumber);
        return;
      }
      if (topic === 'info') {
        const state = await session.readState('poll');
        msg.payload = infoPayload(deviceid, state);
        msg.sonoff = sonoffMeta(deviceid, session.outletState(outlet) ?? { outlet }, state, 'poll', session.seqNumber);
        return;
      }
      if (topic === 'wifi') {
        const p = (payload && typeof payload === 'object' ? payload : {}) as { ssid?: unknown; password?: unknown };
        // the password never travels on: not in the output, nor in the message a Catch node gets
        msg.payload = { ssid: p.ssid };
        // the session refuses what is not a string
        await session.setWifi(p.ssid as string, (p.password ?? '') as string);
        msg.payload = true;
        return;
      }

      let target = outlet;
      let wanted: unknown = payload;
      if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
        const p = payload as { switch?: unknown; outlet?: unknown };
        if (p.outlet !== undefined) target = numberSetting(p.outlet, Number.NaN);
        if (Number.isNaN(target)) throw argumentError(`outlet must be a number, not ${JSON.stringify(p.outlet)}`);
        if (p.switch === undefined) throw argumentError('an object payload needs a "switch" property ("on"/"off" or a boolean)');
        wanted = p.switch;
      }
      let snap: OutletSnapshot;
      const text = typeof wanted === 'string' ? wanted.trim().toLowerCase() : undefined;
      if (wanted === undefined || wanted === null || text === '' || text === 'status') {
        await session.readState('poll');
        snap = session.snapshot(target, 'poll');
      } else if (text === 'toggle') {
        snap = await session.toggle(target);
      } else {
        snap = await session.setSwitch(target, toOnOff(wanted) === 'on');
      }
      msg.payload = value(snap.state.on);
      msg.sonoff = metaOfSnapshot(deviceid, snap);
    };

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      busy++;
      showState();
      run(msg).then(
        () => {
          busy--;
          showState();
          send(msg);
          done();
        },
        (err: unknown) => {
          busy--;
          node.status(errorStatus('sonoff-switch', err));
          done(toError(err));
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      cfg.deregister(user);
      node.status({});
      done();
    });
  }
  RED.nodes.registerType('sonoff-switch', SonoffSwitch);
};
