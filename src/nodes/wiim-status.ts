import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { DeviceError } from '../shared/errors';
import type { Health } from '../sessions/device-session';
import type { WiimSession, WiimState, WiimStateEvent } from '../sessions/wiim-session';
import type { WiimConfigNode, WiimUser } from './wiim-shared';
import { errorStatus, statusSetter, toError, type Done, type Send } from './node-util';

/**
 * wiim-status: the device's state, on change or on every poll. The session
 * polls once for all wiim-status nodes of a device; any input message forces
 * a refresh and an output.
 */
interface WiimStatusDef extends NodeDef {
  device: string;
  output: 'change' | 'poll';
  meta: boolean | string;
}

const STATUS = {
  playing: { fill: 'green', shape: 'dot', text: 'wiim-status.status.playing' },
  paused: { fill: 'grey', shape: 'ring', text: 'wiim-status.status.paused' },
  stopped: { fill: 'grey', shape: 'ring', text: 'wiim-status.status.stopped' },
  loading: { fill: 'yellow', shape: 'dot', text: 'wiim-status.status.loading' },
  connecting: { fill: 'yellow', shape: 'dot', text: 'wiim-status.status.connecting' },
  offline: { fill: 'red', shape: 'ring', text: 'wiim-status.status.offline' },
  error: { fill: 'red', shape: 'ring', text: 'wiim-status.status.error' },
  unconfigured: { fill: 'red', shape: 'ring', text: 'wiim-status.status.unconfigured' },
} satisfies Record<string, NodeStatus>;

function statusOf(state: WiimState): NodeStatus {
  if (!state.online) return STATUS.offline;
  const s = STATUS[state.state ?? 'stopped'];
  // the title is data, not a label: shown as it is
  if (state.state === 'playing' && state.title) return { ...s, text: state.artist ? `${state.title} – ${state.artist}` : state.title };
  return s;
}

export = function (RED: NodeAPI) {
  function WiimStatus(this: Node, def: WiimStatusDef) {
    RED.nodes.createNode(this, def);
    // the handlers below close over the node, as in the core nodes
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const setStatus = statusSetter(node);
    const config = RED.nodes.getNode(def.device) as WiimConfigNode | null;
    const everyPoll = def.output === 'poll';
    const meta = def.meta === true || def.meta === 'true';
    let session: WiimSession | undefined;

    const message = (msg: NodeMessage, event: WiimStateEvent): NodeMessage => {
      const out = msg as NodeMessage & { changed?: string[]; wiim?: unknown };
      out.topic = config?.deviceName ?? '';
      // a copy: a flow that changes msg.payload must not change the session's state
      out.payload = { ...event.state };
      out.changed = event.changed;
      out.wiim = { raw: event.raw };
      return out;
    };

    const onState = (event: WiimStateEvent) => {
      setStatus(statusOf(event.state));
      if (event.requesters?.has(node)) return; // answered by the input handler
      const wanted = everyPoll ? event.source !== 'command' : event.changed.length > 0;
      if (wanted) node.send(message({}, event));
    };

    const user: WiimUser = {
      id: node.id,
      deviceHealth(health: Health | 'unconfigured') {
        if (health === 'unconfigured' || health === 'offline' || health === 'connecting') setStatus(STATUS[health]);
        else if (session?.state) setStatus(statusOf(session.state));
      },
    };

    if (!config) setStatus(STATUS.unconfigured);
    else {
      config.register(user);
      session = config.session;
      if (session) {
        setStatus(STATUS.connecting);
        session.on('state', onState);
        session.register(node, { meta });
      }
    }

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      if (!session) {
        done(config?.problem ?? new DeviceError('argument', 'wiim-status has no wiim-config device'));
        return;
      }
      session.refresh(node).then(
        (event) => {
          send(message(msg, event));
          done();
        },
        (err: unknown) => {
          setStatus(errorStatus('wiim-status', err));
          done(toError(err));
        },
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (session) {
        session.removeListener('state', onState);
        session.deregister(node);
      }
      config?.deregister(user);
      done();
    });
  }

  RED.nodes.registerType('wiim-status', WiimStatus);
};
