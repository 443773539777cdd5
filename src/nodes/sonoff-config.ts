import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import type { Clock } from '../shared/clock';
import { numberSetting, stringSetting } from '../shared/settings';
import { openSonoffSession, type SonoffModel, type SonoffSession } from '../sessions/sonoff-session';
import { SonoffClient, DEFAULT_SONOFF_PORT } from '../sonoff/client';
import { discoverSonoff } from '../sonoff/discovery';
import type { SonoffUser } from './sonoff-common';

interface SonoffConfigDef extends NodeDef {
  deviceid?: string;
  host?: string;
  port?: string | number;
  model?: string;
  pollInterval?: string | number;
  timeout?: string | number;
  /** failures in a row before the device counts as offline */
  offlineAfter?: string | number;
}

type ConfigNode = Node & {
  deviceid: string;
  session: SonoffSession;
  users: Set<SonoffUser>;
  register(user: SonoffUser): void;
  deregister(user: SonoffUser): void;
};

/** Static host without a poll setting: poll this often, since no mDNS push reaches us. */
const STATIC_HOST_DEFAULT_POLL_S = 10;

export = function (RED: NodeAPI) {
  function SonoffConfig(this: ConfigNode, config: SonoffConfigDef) {
    RED.nodes.createNode(this, config);
    // the Node-RED idiom: handlers below close over the node
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const host = stringSetting(config.host);
    const model: SonoffModel = config.model === 'single' || config.model === 'multi' ? config.model : 'auto';
    const pollRaw = stringSetting(config.pollInterval);
    const pollInterval = Math.max(0, numberSetting(pollRaw, host ? STATIC_HOST_DEFAULT_POLL_S : 0));
    node.deviceid = stringSetting(config.deviceid);
    node.users = new Set();
    node.session = openSonoffSession(RED, node.id, {
      deviceid: node.deviceid,
      host,
      port: numberSetting(config.port, DEFAULT_SONOFF_PORT),
      model,
      pollInterval,
      offlineAfter: Math.max(1, Math.round(numberSetting(config.offlineAfter, 3))),
      timeoutMs: Math.max(500, numberSetting(config.timeout, 5000)),
      name: config.name || undefined,
      clock: (RED.settings as { wiimSonoffClock?: Clock }).wiimSonoffClock,
    });
    // the config pushes health and state to its users (as the core mqtt-broker does)
    node.session.on('health', (health, err) => {
      for (const u of node.users) u.health(health, err);
    });
    node.session.on('state', (change) => {
      for (const u of node.users) u.state(change);
    });

    node.register = (user: SonoffUser) => {
      node.users.add(user);
      node.session.register(user);
      user.health(node.session.health, node.session.lastError);
    };
    node.deregister = (user: SonoffUser) => {
      node.users.delete(user);
      node.session.deregister(user);
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      node.users.clear();
      node.session.close().then(
        () => done(),
        () => done(),
      );
    });
  }
  RED.nodes.registerType('sonoff-config', SonoffConfig);

  const permission = RED.auth.needsPermission('sonoff-config.read');

  // time-boxed mDNS look; the watcher it opens is closed before the answer
  RED.httpAdmin.get('/sonoff-config/discover', permission, (req: Request, res: Response) => {
    const timeout = Math.min(10000, Math.max(500, numberSetting(req.query.timeout, 3000)));
    discoverSonoff(timeout).then(
      (devices) =>
        res.json(
          devices.map((d) => ({
            deviceid: d.deviceid,
            name: d.name,
            type: d.type,
            host: d.host,
            port: d.port,
            encrypted: d.encrypted,
            state: d.state?.outlets.map((o) => ({ outlet: o.outlet, switch: o.on })) ?? [],
            family: d.state?.family,
          })),
        ),
      (err: unknown) => res.status(500).json({ error: err instanceof Error ? err.message : String(err) }),
    );
  });

  RED.httpAdmin.post('/sonoff-config/test', permission, (req: Request, res: Response) => {
    const body = (req.body ?? {}) as { deviceid?: unknown; host?: unknown; port?: unknown };
    const host = stringSetting(body.host);
    if (!host) {
      res.json({ ok: false, error: 'enter a host to test (devices found by mDNS: use Discover)' });
      return;
    }
    const client = new SonoffClient({ host, port: numberSetting(body.port, DEFAULT_SONOFF_PORT), deviceid: stringSetting(body.deviceid), timeoutMs: 4000 });
    client
      .info()
      .then(
        ({ state }) =>
          res.json({
            ok: true,
            fwVersion: state.fwVersion,
            family: state.family,
            deviceid: state.deviceid,
            state: state.outlets.map((o) => ({ outlet: o.outlet, switch: o.on })),
          }),
        (err: unknown) => res.json({ ok: false, error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => void client.close());
  });
};
