import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { argumentError } from '../shared/errors';
import { numberSetting, optionalNumberSetting } from '../shared/settings';
import { toOnOff } from '../sonoff/codec';
import type { PulseRequest } from '../sessions/sonoff-session';
import { configOf, metaOfSnapshot, type SonoffUser } from './sonoff-common';
import { errorStatus, toError, type Done, type Send } from './node-util';

interface SonoffPulseDef extends NodeDef {
  device?: string;
  outlet?: string | number;
  width?: string | number;
}

export = function (RED: NodeAPI) {
  function SonoffPulse(this: Node, config: SonoffPulseDef) {
    RED.nodes.createNode(this, config);
    // the Node-RED idiom: handlers below close over the node
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const outlet = numberSetting(config.outlet, 0);
    const nodeWidth = optionalNumberSetting(config.width);
    const cfg = configOf(RED, config.device);

    const showState = () => {
      if (!cfg) return;
      const s = cfg.session;
      if (s.health === 'offline') {
        node.status({ fill: 'red', shape: 'ring', text: 'sonoff-pulse.status.offline' });
        return;
      }
      const o = s.outletState(outlet);
      if (o?.pulse === true) node.status({ fill: 'green', shape: 'dot', text: 'sonoff-pulse.status.enabled' });
      else if (o?.pulse === false) node.status({ fill: 'grey', shape: 'ring', text: 'sonoff-pulse.status.disabled' });
      else node.status({});
    };

    if (!cfg) {
      node.status({ fill: 'red', shape: 'ring', text: 'sonoff-pulse.status.noconfig' });
      node.on('input', (_msg: NodeMessageInFlow, _send: Send, done: Done) => {
        done(new Error('sonoff-pulse: no sonoff-config node is selected'));
      });
      return;
    }
    const session = cfg.session;
    const user: SonoffUser = { node, health: () => showState(), state: () => showState() };
    cfg.register(user);

    /** number = enable with that width; true/false; {pulse, width, switch, outlet}. */
    const parse = (payload: unknown): { outlet: number; setting: PulseRequest } => {
      if (typeof payload === 'number') return { outlet, setting: { pulse: true, width: payload } };
      if (typeof payload === 'string' && payload.trim() !== '' && Number.isFinite(Number(payload)))
        return { outlet, setting: { pulse: true, width: Number(payload) } };
      if (payload && typeof payload === 'object' && !Buffer.isBuffer(payload)) {
        const p = payload as { pulse?: unknown; width?: unknown; switch?: unknown; outlet?: unknown };
        const target = p.outlet === undefined ? outlet : numberSetting(p.outlet, Number.NaN);
        if (Number.isNaN(target)) throw argumentError(`outlet must be a number, not ${JSON.stringify(p.outlet)}`);
        const pulse = p.pulse === undefined ? true : toOnOff(p.pulse, 'pulse') === 'on';
        const setting: PulseRequest = { pulse };
        const width = p.width === undefined ? nodeWidth : optionalNumberSetting(p.width);
        if (p.width !== undefined && width === undefined) throw argumentError(`pulse width must be a number of ms, not ${JSON.stringify(p.width)}`);
        if (width !== undefined) setting.width = width;
        if (p.switch !== undefined) setting.switch = toOnOff(p.switch);
        return { outlet: target, setting };
      }
      const pulse = toOnOff(payload, 'pulse') === 'on';
      const setting: PulseRequest = { pulse };
      if (nodeWidth !== undefined) setting.width = nodeWidth;
      return { outlet, setting };
    };

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      let request: { outlet: number; setting: PulseRequest };
      try {
        request = parse(msg.payload);
      } catch (err) {
        node.status(errorStatus('sonoff-pulse', err));
        done(toError(err));
        return;
      }
      node.status({ fill: 'yellow', shape: 'dot', text: 'sonoff-pulse.status.working' });
      session.setPulse(request.outlet, request.setting).then(
        (snap) => {
          const out: Record<string, unknown> = { pulse: snap.state.pulse === true, width: snap.state.pulseWidth };
          if (snap.state.pulseSwitch !== undefined) out.switch = snap.state.pulseSwitch;
          msg.payload = out;
          msg.sonoff = metaOfSnapshot(cfg.deviceid, snap);
          showState();
          send(msg);
          done();
        },
        (err: unknown) => {
          node.status(errorStatus('sonoff-pulse', err));
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
  RED.nodes.registerType('sonoff-pulse', SonoffPulse);
};
