import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { DeviceError } from '../shared/errors';
import { stringSetting } from '../shared/settings';
import type { Health } from '../sessions/device-session';
import { prepareCommand } from '../wiim/commands';
import { resolveCommand, type WiimConfigNode, type WiimUser } from './wiim-shared';
import { errorStatus, toError, type Done, type Send } from './node-util';

/**
 * wiim-command: one command per message. The command is the node's setting,
 * or comes from the message (bare name in msg.payload, msg.topic with
 * msg.payload as the argument, or msg.payload = {command, value}).
 */
interface WiimCommandDef extends NodeDef {
  device: string;
  /** empty = from the message */
  command: string;
  /** empty = msg.payload is the argument */
  value: string;
}

const STATUS = {
  sending: { fill: 'yellow', shape: 'dot', text: 'wiim-command.status.sending' },
  ok: { fill: 'green', shape: 'dot', text: 'wiim-command.status.ok' },
  online: { fill: 'green', shape: 'dot', text: 'wiim-command.status.online' },
  connecting: { fill: 'yellow', shape: 'dot', text: 'wiim-command.status.connecting' },
  offline: { fill: 'red', shape: 'ring', text: 'wiim-command.status.offline' },
  error: { fill: 'red', shape: 'ring', text: 'wiim-command.status.error' },
  unconfigured: { fill: 'red', shape: 'ring', text: 'wiim-command.status.unconfigured' },
} satisfies Record<string, NodeStatus>;

export = function (RED: NodeAPI) {
  function WiimCommand(this: Node, def: WiimCommandDef) {
    RED.nodes.createNode(this, def);
    // the handlers below close over the node, as in the core nodes
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const config = RED.nodes.getNode(def.device) as WiimConfigNode | null;
    const fixed = stringSetting(def.command);
    const fixedValue = typeof def.value === 'string' ? def.value : def.value === undefined || def.value === null ? '' : String(def.value);

    const user: WiimUser = {
      id: node.id,
      deviceHealth(health: Health | 'unconfigured') {
        node.status(STATUS[health === 'online' ? 'online' : health]);
      },
    };
    if (config) config.register(user);
    else node.status(STATUS.unconfigured);

    node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
      let command = '';
      try {
        if (!config) throw new DeviceError('argument', 'wiim-command has no wiim-config device');
        const session = config.requireSession();
        const resolved = resolveCommand(fixed, fixedValue, msg);
        command = resolved.command;
        node.status(STATUS.sending);
        session.command(prepareCommand(resolved.command, resolved.value)).then(
          (result) => {
            const out = msg as NodeMessage & { wiim?: unknown };
            out.payload = result.payload;
            out.wiim = { command: result.command, request: result.request, raw: result.raw };
            node.status(STATUS.ok);
            send(out);
            done();
          },
          (err: unknown) => fail(err),
        );
      } catch (err) {
        fail(err);
      }
      function fail(err: unknown) {
        (msg as NodeMessage & { wiim?: unknown }).wiim = { command };
        node.status(errorStatus('wiim-command', err));
        done(toError(err));
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      config?.deregister(user);
      done();
    });
  }

  RED.nodes.registerType('wiim-command', WiimCommand);
};
