import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { stringSetting } from '../shared/settings';
import type { WiimSession } from '../sessions/wiim-session';
import { resolveCommand } from './wiim-message';
import { deviceNode, type DeviceNode } from './device-node';

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

type Out = NodeMessage & { wiim?: unknown };

export = function (RED: NodeAPI) {
  function WiimCommand(this: Node, def: WiimCommandDef) {
    RED.nodes.createNode(this, def);
    const fixed = stringSetting(def.command);
    const fixedValue = typeof def.value === 'string' ? def.value : def.value === undefined || def.value === null ? '' : String(def.value);

    const self: DeviceNode<WiimSession, unknown> = deviceNode(RED, this, {
      type: 'wiim-command',
      configType: 'wiim-config',
      device: def.device,
      async input(msg, session) {
        const out = msg as Out;
        let command = '';
        try {
          const resolved = resolveCommand(fixed, fixedValue, msg);
          command = resolved.command;
          const result = await session.command(resolved.command, resolved.value);
          out.payload = result.payload;
          out.wiim = { command: result.command, request: result.request, raw: result.raw };
          return self.shared('done');
        } catch (err) {
          out.wiim = { command };
          throw err;
        }
      },
    });
  }
  RED.nodes.registerType('wiim-command', WiimCommand);
};
