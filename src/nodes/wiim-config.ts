import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import type { Clock } from '../shared/clock';
import { DeviceError } from '../shared/errors';
import { numberSetting, optionalNumberSetting, stringSetting } from '../shared/settings';
import { WiimSession, type WiimSessionOptions } from '../sessions/wiim-session';
import { openSession } from '../sessions/device-session';
import { WiimClient, type WiimProtocol } from '../wiim/client';
import { discoverWiim } from '../wiim/discovery';
import type { Health } from '../sessions/device-session';
import type { WiimConfigNode, WiimUser } from './wiim-shared';

/**
 * wiim-config: one WiiM device. It owns the device's session; wiim-command
 * and wiim-status nodes register with it and get the device's health pushed
 * to them (in the manner of the core MQTT broker node).
 */
interface WiimConfigDef extends NodeDef {
  host: string;
  port: string | number;
  protocol: WiimProtocol;
  timeout: string | number;
  pollPlaying: string | number;
  pollIdle: string | number;
  fingerprint: string;
  /** failures in a row before the device counts as offline */
  offlineAfter?: string | number;
}

const DISCOVER_DEFAULT_MS = 3000;

export = function (RED: NodeAPI) {
  function WiimConfig(this: WiimConfigNode, def: WiimConfigDef) {
    RED.nodes.createNode(this, def);
    // the handlers below close over the node, as in the core nodes
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const users = new Map<string, WiimUser>();
    const host = stringSetting(def.host);
    node.deviceName = stringSetting(def.name) || host;
    node.session = undefined;
    node.problem = undefined;

    if (host === '') {
      node.problem = new DeviceError('argument', `wiim-config "${node.deviceName || node.id}" has no host; set the device's address`);
    } else {
      try {
        const protocol = (['auto', 'https', 'http'] as const).find((p) => p === def.protocol) ?? 'auto';
        const options: WiimSessionOptions = {
          name: node.deviceName,
          host,
          port: optionalNumberSetting(def.port),
          protocol,
          timeoutMs: numberSetting(def.timeout, 5000),
          pollPlayingMs: numberSetting(def.pollPlaying, 1) * 1000,
          pollIdleMs: numberSetting(def.pollIdle, 5) * 1000,
          offlineAfter: Math.max(1, Math.round(numberSetting(def.offlineAfter, 3))),
          fingerprint: stringSetting(def.fingerprint) || undefined,
          clock: (RED.settings as { wiimSonoffClock?: Clock }).wiimSonoffClock,
        };
        node.session = openSession(RED, node.id, () => new WiimSession(options));
      } catch (err) {
        node.problem = err instanceof DeviceError ? err : new DeviceError('argument', String(err));
      }
    }
    if (node.problem) node.warn(node.problem.message);

    const session = node.session;
    session?.on('health', (health: Health, err: DeviceError | undefined) => {
      for (const u of users.values()) u.deviceHealth(health, err);
    });

    node.register = (user: WiimUser) => {
      users.set(user.id, user);
      if (!session) user.deviceHealth('unconfigured', node.problem);
      else if (session.health !== 'connecting') user.deviceHealth(session.health, session.lastError);
    };
    node.deregister = (user: WiimUser) => {
      users.delete(user.id);
    };
    node.requireSession = () => {
      if (session && !session.isClosed) return session;
      throw node.problem ?? new DeviceError('closed', 'the device connection is closed');
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      if (!session) {
        done();
        return;
      }
      session.close().then(
        () => done(),
        () => done(),
      );
    });
  }

  RED.nodes.registerType('wiim-config', WiimConfig);

  // --- editor endpoints (relative URLs from the editor: 'wiim-config/...')

  RED.httpAdmin.get('/wiim-config/discover', RED.auth.needsPermission('wiim-config.read'), (req: Request, res: Response) => {
    const t = numberSetting(req.query.timeout, DISCOVER_DEFAULT_MS);
    discoverWiim(Math.min(10000, Math.max(500, t))).then(
      (devices) => res.json({ devices }),
      (err: unknown) => res.status(500).json({ error: err instanceof Error ? err.message : String(err) }),
    );
  });

  RED.httpAdmin.post('/wiim-config/test', RED.auth.needsPermission('wiim-config.read'), (req: Request, res: Response) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    let client: WiimClient;
    try {
      const protocol = (['auto', 'https', 'http'] as const).find((p) => p === body.protocol) ?? 'auto';
      client = new WiimClient({
        host: stringSetting(body.host),
        port: optionalNumberSetting(body.port),
        protocol,
        timeoutMs: numberSetting(body.timeout, 5000),
        fingerprint: stringSetting(body.fingerprint) || undefined,
      });
    } catch (err) {
      res.json({ ok: false, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    client
      .statusEx()
      .then(
        ({ info }) =>
          res.json({ ok: true, model: info.model, firmware: info.firmware, name: info.name, endpoint: client.endpoint, relaxedTls: client.relaxedTls }),
        (err: unknown) => res.json({ ok: false, error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => void client.close());
  });
};
