/**
 * wiim-status: the device's state, on change or on every poll. The session
 * polls once for all wiim-status nodes of a device; any input message forces
 * a refresh and an output.
 */

import type { Node, NodeAPI, NodeDef, NodeMessage, NodeStatus } from 'node-red';
import type { WiimSession, WiimStateEvent } from '../sessions/wiim-session';
import type { WiimState } from '../wiim/state';
import { deviceNode } from './device-node';
import type { WiimHandle } from '../contract/wiim-contract';

interface WiimStatusDef extends NodeDef {
  device: string;
  output: 'change' | 'poll';
  meta: boolean | string;
}

type Out = NodeMessage & { changed?: string[]; wiim?: unknown };

const PLAY: Record<NonNullable<WiimState['state']>, NodeStatus> = {
  playing: { fill: 'green', shape: 'dot', text: 'wiim-status.status.playing' },
  paused: { fill: 'grey', shape: 'ring', text: 'wiim-status.status.paused' },
  stopped: { fill: 'grey', shape: 'ring', text: 'wiim-status.status.stopped' },
  loading: { fill: 'yellow', shape: 'dot', text: 'wiim-status.status.loading' },
};

const PLAY_STATUSES: ReadonlySet<NodeStatus> = new Set(Object.values(PLAY));

function statusOf(state: WiimState): NodeStatus {
  const s = PLAY[state.state ?? 'stopped'];
  // the title is data, not a label: shown as it is
  if (state.state === 'playing' && state.title) return { ...s, text: state.artist ? `${state.title} – ${state.artist}` : state.title };
  return s;
}

export = function (RED: NodeAPI) {
  /**
   * While UPnP events flow, the status says so: "· live" after the text (a
   * polled state shows as before). Each of PLAY's statuses is translated
   * once: the status at rest is worked out again on every event, and
   * translating it each time was a visible share of a 1000-device
   * Node-RED's work (bench/README.md). The runtime's language does not
   * change while it runs.
   */
  const livePlay = new Map<NodeStatus, NodeStatus>();
  let liveWord: string | undefined;
  const live = (status: NodeStatus, pushed: boolean): NodeStatus => {
    if (!pushed) return status;
    const known = livePlay.get(status);
    if (known) return known;
    liveWord ??= RED._('wiim-status.source.live');
    const text = String(status.text ?? '');
    // a playing title is data, made afresh for each state: shown as it is
    if (!PLAY_STATUSES.has(status)) return { ...status, text: `${text} · ${liveWord}` };
    const shown = { ...status, text: `${RED._(text)} · ${liveWord}` };
    livePlay.set(status, shown);
    return shown;
  };

  function WiimStatus(this: Node, def: WiimStatusDef) {
    RED.nodes.createNode(this, def);
    // the handlers below close over the node, as in the core nodes
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const everyPoll = def.output === 'poll';

    const message = (msg: NodeMessage, event: WiimStateEvent): NodeMessage => {
      const out = msg as Out;
      out.topic = self.config?.deviceName ?? '';
      // a copy: a flow that changes msg.payload must not change the session's state
      out.payload = { ...event.state };
      out.changed = [...event.changed];
      out.wiim = { raw: event.raw, source: event.source };
      return out;
    };

    const self = deviceNode<WiimSession, WiimStateEvent, WiimHandle>(RED, node, {
      type: 'wiim-status',
      configType: 'wiim-config',
      device: def.device,
      subscribe: { meta: def.meta === true || def.meta === 'true' },
      idle: (session, health) => (health === 'online' && session.state?.online ? live(statusOf(session.state), session.live) : undefined),
      onState(event) {
        const wanted = everyPoll ? event.source !== 'command' : event.changed.length > 0;
        if (wanted) node.send(message({}, event));
      },
      async input(msg, _device, session) {
        message(msg, await session.refresh(node));
      },
    });
  }
  RED.nodes.registerType('wiim-status', WiimStatus);
};
