import type { Node, NodeMessage, NodeStatus } from 'node-red';
import { DeviceError } from '../shared/errors';

/** What every node file shares: handler types, and how a failure looks. */

/** The `send` and `done` an input handler gets, as Node-RED 1.0+ passes them. */
export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The status after a failed message: offline (red ring) when the device could not be reached, else error. */
export function errorStatus(type: string, err: unknown): NodeStatus {
  if (err instanceof DeviceError && (err.kind === 'offline' || err.isTransport)) return { fill: 'red', shape: 'ring', text: `${type}.status.offline` };
  return { fill: 'red', shape: 'ring', text: `${type}.status.error` };
}

/**
 * `node.status` that skips a status equal to the one shown. Node-RED hands
 * every status call to the flow's Status nodes, so a status set on every poll
 * would make them emit once a poll. Every status call of the node must go
 * through it, so that it knows what is shown.
 */
export function statusSetter(node: Node): (status: NodeStatus) => void {
  let shown: string | undefined;
  return (status) => {
    const key = `${status.fill ?? ''}|${status.shape ?? ''}|${status.text ?? ''}`;
    if (key === shown) return;
    shown = key;
    node.status(status);
  };
}
