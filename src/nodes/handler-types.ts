import type { NodeMessage } from 'node-red';

/** The `send` and `done` an input handler gets, as Node-RED 1.0+ passes them. */
export type Send = (msg: NodeMessage | Array<NodeMessage | NodeMessage[] | null>) => void;
export type Done = (err?: Error) => void;
