import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { DeviceHandle, DeviceUpdate, Health } from './device';

/**
 * What the two widgets share on the server: the binding of a Dashboard 2.0
 * widget to a config node's device handle, and the one way a browser can
 * act on the device.
 *
 * Dashboard 2.0 stores whatever a browser sends on `widget-change` and
 * `widget-send` as the widget's state and passes it out of the node, unless
 * the widget supplies its own handlers (and on `widget-action` when the widget
 * sets `onAction`). So both handlers are ours, `onAction` stays unset, and an
 * action is a `widget-send` of `{action, value}` that the widget's table
 * checks before anything reaches the device.
 */

/** The parts of Dashboard 2.0's ui-base this uses (nodes/config/ui_base.js). */
interface UiBase {
  emit(event: string, msg: object, node: Node): void;
  stores: { data: { save(base: UiBase, node: Node, msg: object): void; clear?(id: string): void } };
}
interface UiGroup extends Node {
  getBase(): UiBase;
  register(node: Node, config: object, evts: object): void;
}

/** A checked action: the command and value for `DeviceHandle.send`, and what the message out says. */
export interface Checked {
  command: string;
  value?: unknown;
  outlet?: number;
  /** the value the output message carries (the browser's, when the command's argument is built from it) */
  shown?: unknown;
}

export interface WidgetConfig {
  id: string;
  group?: string;
  device?: string;
}

export interface WidgetSpec<S, Extra> {
  /** the node type, for the catalogue */
  type: string;
  configType: 'wiim-config' | 'sonoff-config';
  /** the browser's view of the device: what the card shows */
  view(u: DeviceUpdate<S> | undefined, extra: Extra | undefined): Record<string, unknown>;
  /** `undefined` when the action is not the widget's or its value is out of range */
  check(action: string, value: unknown, u: DeviceUpdate<S> | undefined, extra: Extra | undefined): Checked | undefined;
  /** reads that complete the view (presets, inputs, the group); called on each update, returns what it found */
  extra?: (handle: DeviceHandle<S>, u: DeviceUpdate<S>, previous: Extra | undefined, previousUpdate: DeviceUpdate<S> | undefined) => Promise<Extra> | undefined;
  /** the handle's subscription options (the player wants the track's metadata: artwork) */
  subscribe?: { meta?: boolean };
  /** further message properties, when they changed (the tile's history): the dashboard's store keeps the last ones */
  attach?: () => Record<string, unknown> | undefined;
  /** sees each update first (the tile's history) */
  observe?: (u: DeviceUpdate<S>) => void;
}

/** The keys a browser's action may have; anything else is refused whole. */
const ACTION_KEYS = new Set(['action', 'value', '_client']);
/** How long a card shows an action's error (ms). */
export const NOTICE_MS = 5000;

export function errorOf(err: unknown): { kind: string; message: string } {
  const e = err as { kind?: unknown; message?: unknown } | null;
  return { kind: typeof e?.kind === 'string' ? e.kind : 'error', message: typeof e?.message === 'string' ? e.message : String(err) };
}

/**
 * Registers `node` with its ui-group and binds it to its device: every update
 * of the device is saved to the dashboard's data store (so a page opened later
 * shows it at once) and sent to every browser; every browser action is
 * checked, sent through the handle, and leaves the node as a message.
 */
export function bindWidget<S, Extra>(RED: NodeAPI, node: Node, config: WidgetConfig, spec: WidgetSpec<S, Extra>): void {
  const group = RED.nodes.getNode(config.group ?? '') as UiGroup | null;
  if (!group || typeof group.register !== 'function') {
    node.error(RED._(`${spec.type}.errors.no-group`));
    return;
  }
  const base = group.getBase();
  const configNode = RED.nodes.getNode(config.device ?? '') as (Node & { type?: string; device?: DeviceHandle<S> }) | null;
  const handle = configNode && configNode.type === spec.configType ? configNode.device : undefined;
  let latest: DeviceUpdate<S> | undefined;
  let extra: Extra | undefined;
  let pending = 0;
  let closed = false;
  /** when the latest update arrived: the browsers advance the position from it */
  let latestAt = Date.now();

  const publish = (notice?: object) => {
    if (closed) return;
    const payload = { ...spec.view(latest, extra), pending: pending > 0, at: latestAt };
    const msg = { payload, ...spec.attach?.() };
    // the store keeps the state for pages opened later; a notice is for the pages open now
    base.stores.data.save(base, node, msg);
    base.emit(`msg-input:${node.id}`, notice ? { ...msg, notice } : msg, node);
  };

  let unsubscribe: (() => void) | undefined;
  if (!handle) {
    latest = {
      health: 'unconfigured',
      state: undefined,
      changed: [],
      source: 'health',
      error: { kind: 'config', message: RED._(`${spec.type}.errors.no-device`) },
    };
  } else {
    unsubscribe = handle.subscribe((u) => {
      const previous = latest;
      latest = u;
      latestAt = Date.now();
      spec.observe?.(u);
      const reading = spec.extra?.(handle, u, extra, previous);
      if (reading)
        reading.then(
          (found) => {
            extra = found;
            publish();
          },
          () => undefined, // a read-out that failed leaves the last one; health says why
        );
      publish();
    }, spec.subscribe);
  }

  const refuse = (what: string) => {
    node.warn(RED._(`${spec.type}.errors.refused`, { action: what.slice(0, 60) }));
  };

  const act = async (msg: Record<string, unknown>) => {
    if (!msg || typeof msg !== 'object' || Array.isArray(msg) || Object.keys(msg).some((k) => !ACTION_KEYS.has(k)) || typeof msg.action !== 'string') {
      refuse(describe(msg));
      return;
    }
    const checked = handle ? spec.check(msg.action, msg.value, latest, extra) : undefined;
    if (!checked || !handle) {
      refuse(`${msg.action} ${describe(msg.value)}`);
      return;
    }
    const out: NodeMessage & Record<string, unknown> = { topic: checked.command, payload: 'shown' in checked ? checked.shown : checked.value };
    pending++;
    publish();
    let notice: object | undefined;
    try {
      const res = await handle.send(checked.command, checked.value, checked.outlet === undefined ? undefined : { outlet: checked.outlet });
      out.result = res.payload;
    } catch (err) {
      out.error = errorOf(err);
      notice = { command: checked.command, message: errorOf(err).message };
    } finally {
      pending--;
    }
    if (closed) return;
    publish(notice);
    node.send(out);
  };

  group.register(node, config, {
    // widget-send: our actions, checked
    onSend: (msg: Record<string, unknown>) => act(msg),
    // widget-change: nothing of ours; the default would store and pass on what a browser sends
    onChange: (_msg: unknown, value: unknown) => refuse(`widget-change ${describe(value)}`),
    // no input: the widget shows its device, not messages
    onInput: (_msg: unknown, _send: unknown) => undefined,
  });
  publish();

  node.on('close', (_removed: boolean, done: () => void) => {
    closed = true;
    unsubscribe?.();
    done();
  });
}

/** A short, single-line description of what a browser sent, for the log. */
function describe(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.replace(/[\r\n\t]+/g, ' ').slice(0, 60);
}

/** A whole number from `min` to `max` (a number: the browser sends numbers); undefined otherwise. */
export function wholeIn(v: unknown, min: number, max: number): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : undefined;
}

export function isOnline(u: DeviceUpdate<unknown> | undefined): boolean {
  return u?.health === 'online';
}

export type { Health };
