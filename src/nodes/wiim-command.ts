/**
 * wiim-command: one command per message. The command is the node's setting,
 * or comes from the message (bare name in msg.payload, msg.topic with
 * msg.payload as the argument, or msg.payload = {command, value}).
 */

import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { stringSetting } from './settings';
import type { WiimSession, WiimStateEvent } from '../sessions/wiim-session';
import type { WiimHandle } from '../contract/wiim-contract';
import { resolveCommand } from '../contract/wiim-message';
import { deviceNode } from './device-node';

interface WiimCommandDef extends NodeDef {
  device: string;
  /** empty = from the message */
  command: string;
  /** empty = msg.payload is the argument */
  value: string;
}

type Out = NodeMessage & { wiim?: unknown };

const RESULT_MS = 3000;

export = function (RED: NodeAPI) {
  function WiimCommand(this: Node, def: WiimCommandDef) {
    RED.nodes.createNode(this, def);
    const fixed = stringSetting(def.command);
    const fixedValue = typeof def.value === 'string' ? def.value : def.value === undefined || def.value === null ? '' : String(def.value);

    deviceNode<WiimSession, WiimStateEvent, WiimHandle>(RED, this, {
      type: 'wiim-command',
      configType: 'wiim-config',
      device: def.device,
      resultMs: RESULT_MS,
      async input(msg, device) {
        const out = msg as Out;
        let command = '';
        try {
          const resolved = resolveCommand(fixed, fixedValue, msg);
          command = resolved.command;
          const result = await device.run(resolved.command, resolved.value, {});
          out.payload = result.payload;
          out.wiim = { command: result.command, request: result.request, raw: result.raw };
          // the command and what it set, as the core http request node shows its result, then the device's health
          const value = ['string', 'number', 'boolean'].includes(typeof result.payload) ? `: ${String(result.payload)}` : '';
          return { fill: 'green', shape: 'dot', text: `${result.command}${value}` };
        } catch (err) {
          out.wiim = { command };
          throw err;
        }
      },
    });
  }
  RED.nodes.registerType('wiim-command', WiimCommand);
};
