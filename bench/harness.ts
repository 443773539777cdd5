import type { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { coreNode, node } from '../test/helpers/runtime';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import wiimStatus from '../src/nodes/wiim-status';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';

/**
 * The in-process Node-RED that the latency parts (1 + 2, 4, 6) share: the
 * node types they load and how they time one message. Kept apart from
 * bench/measure.ts, which the scale parts' child processes load without a
 * Node-RED of their own.
 */

const httpRequestNode = coreNode('network/21-httprequest.js');
const catchNode = coreNode('common/25-catch.js');
const changeNode = coreNode('function/15-change.js');
export const NODES = [wiimConfig, wiimCommand, wiimStatus, sonoffConfig, sonoffSwitch, httpRequestNode, catchNode, changeNode] as Array<(RED: unknown) => void>;

export type Msg = Record<string, unknown> & { payload?: unknown };

/** Sends msg into a node; resolves with the message at helper `outId`, or the error caught by 'caught'. */
export function fire(target: string, msg: Msg, outId: string, timeoutMs = 10000): Promise<{ out?: Msg; error?: string; ms: number }> {
  const out = node(outId) as unknown as EventEmitter;
  const caught = node('caught') as unknown as EventEmitter;
  return new Promise((resolve) => {
    const finish = (r: { out?: Msg; error?: string }) => {
      clearTimeout(timer);
      out.removeListener('input', onOut);
      caught.removeListener('input', onCaught);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const onOut = (m: Msg) => finish({ out: m });
    const onCaught = (m: Msg & { error: { message: string; source: { id: string } } }) => {
      if (m.error.source.id === target) finish({ error: m.error.message });
    };
    const timer = setTimeout(() => finish({ error: 'no answer within the deadline' }), timeoutMs);
    out.on('input', onOut);
    caught.on('input', onCaught);
    const t0 = performance.now();
    node(target).receive(msg);
  });
}

/** Times `fn`, which returns whether the reply was right; wrong ones are counted, not timed. */
