/**
 * wiim-command's commands that a session runs rather than one device
 * command (announce, queue, queue-play): the node edge finds what they need
 * in the flow (the config's UPnP port, the leader's config node), loads a
 * file, and hands typed values to src/sessions/wiim-announce.ts and
 * wiim-queue.ts.
 */

import type { NodeAPI } from 'node-red';
import { sessionOf } from './config-node';
import { systemClock, type Clock } from '../shared/clock';
import { loadFile } from '../shared/file-server';
import { WiimSession } from '../sessions/wiim-session';
import { announce, type AnnounceResult, type AnnounceTarget } from '../sessions/wiim-announce';
import { playQueueIndex, readQueue } from '../sessions/wiim-queue';
import { MAX_ANNOUNCE_BYTES, checkAudio, leaderAddress, tooLargeAudio, type AnnounceRequest } from '../wiim/announce';
import { isSessionCommand, prepareCommand, wiimRequest, type SessionCommandName, type WiimCommandRequest } from '../wiim/commands';
import { UPNP_PORT } from '../wiim/upnp';
import { numberSetting, optionalNumberSetting, stringSetting } from './settings';

/** How long reading an announcement file may take: a stalled network mount must not hold the node. */
const FILE_READ_TIMEOUT_MS = 10_000;

interface ConfigDef {
  id: string;
  type: string;
  host?: unknown;
  port?: unknown;
  protocol?: unknown;
  timeout?: unknown;
  upnpPort?: unknown;
}

function configDef(RED: NodeAPI, id: string): ConfigDef | undefined {
  let found: ConfigDef | undefined;
  RED.nodes.eachNode((n) => {
    if (n.id === id) found = n as unknown as ConfigDef;
  });
  return found;
}

/** The UPnP description of a device: the config's `upnpPort` where the flow names one, else the usual port. */
function descriptionUrl(host: string, def: ConfigDef | undefined): string {
  const port = optionalNumberSetting(def?.upnpPort) ?? UPNP_PORT;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/description.xml`;
}

export interface SessionCommandResult {
  payload: unknown;
  wiim: Record<string, unknown>;
}

/** The clock tests hand in through the runtime settings, else the system's. */
function clockOf(RED: NodeAPI): Clock {
  return (RED.settings as { wiimSonoffClock?: Clock }).wiimSonoffClock ?? systemClock;
}

/**
 * Where an announcement for `session` plays: on the device itself, or on
 * its leader (found from getStatusEx master_ip, as pywiim reads it), so the
 * whole group hears it: the firmware drops a follower that plays a URL on
 * its own (mjcumming/wiim TTS guide). The leader is reached through a
 * wiim-config of the same host where the flow has one, otherwise with the
 * follower's protocol, port and TLS settings.
 */
async function announceTarget(RED: NodeAPI, configId: string, session: WiimSession, clock: Clock): Promise<AnnounceTarget> {
  const own = configDef(RED, configId);
  const info = await session.command(prepareCommand(wiimRequest('info')));
  let raw: Record<string, unknown> = {};
  try {
    raw = JSON.parse(info.raw) as Record<string, unknown>;
  } catch {
    // getStatusEx that is not JSON already failed in the parser
  }
  const leader = (info.payload as { group?: string }).group === 'follower' ? leaderAddress(raw) : undefined;
  if (!leader) return { session, descriptionUrl: descriptionUrl(session.client.host, own) };
  let leaderDef: ConfigDef | undefined;
  RED.nodes.eachNode((n) => {
    const d = n as unknown as ConfigDef;
    if (!leaderDef && d.type === 'wiim-config' && stringSetting(d.host) === leader) leaderDef = d;
  });
  const leaderNode = leaderDef ? RED.nodes.getNode(leaderDef.id) : null;
  const leaderSession = leaderNode ? sessionOf<WiimSession>(leaderNode) : undefined;
  if (leaderSession && !leaderSession.isClosed) return { session: leaderSession, descriptionUrl: descriptionUrl(leader, leaderDef) };
  const credentials = (RED.nodes.getCredentials(configId) ?? {}) as { clientCert?: unknown; clientKey?: unknown };
  const pem = (v: unknown) => (typeof v === 'string' && v.includes('-----BEGIN') ? v : undefined);
  const protocol = own?.protocol === 'https' || own?.protocol === 'http' ? own.protocol : 'auto';
  const temporary = new WiimSession({
    host: leader,
    port: optionalNumberSetting(own?.port),
    protocol,
    timeoutMs: numberSetting(own?.timeout, 5000),
    clientCert: pem(credentials.clientCert),
    clientKey: pem(credentials.clientKey),
    events: 'off',
    clock,
  });
  // the output names the device that played it: the leader's own name, which only it can tell
  let name: string | undefined;
  try {
    name = ((await temporary.command(prepareCommand(wiimRequest('info')))).payload as { name?: string }).name;
  } catch (err) {
    await temporary.close();
    throw err;
  }
  return { session: temporary, name, descriptionUrl: descriptionUrl(leader, undefined), release: () => temporary.close() };
}

/** The bytes of a file or Buffer, checked: a regular file, at most 10 MiB, audio of a known type, before anything is sent or served. */
async function announceBody(request: AnnounceRequest) {
  const source = request.source;
  if ('url' in source) return undefined;
  const what = 'buffer' in source ? 'the announcement Buffer' : `the announcement file ${source.file}`;
  const bytes =
    'buffer' in source
      ? source.buffer
      : await loadFile(source.file, {
          maxBytes: MAX_ANNOUNCE_BYTES,
          timeoutMs: FILE_READ_TIMEOUT_MS,
          what: 'the announcement file',
          tooLarge: (n) => tooLargeAudio(n, what),
          // the deadline is for a stalled mount, in real time
          clock: systemClock,
        });
  return { bytes, type: checkAudio(bytes, what) };
}

/** Whether a request is one of the sequences a session runs (announce, queue, queue-play) rather than one command string. */
export function isSessionRequest(request: WiimCommandRequest): request is Extract<WiimCommandRequest, { command: SessionCommandName }> {
  return isSessionCommand(request.command);
}

/** Runs announce, queue or queue-play for wiim-command. */
export async function runSessionCommand(
  RED: NodeAPI,
  configId: string,
  session: WiimSession,
  request: Extract<WiimCommandRequest, { command: SessionCommandName }>,
): Promise<SessionCommandResult> {
  const clock = clockOf(RED);
  const at = clock.now();
  switch (request.command) {
    case 'announce': {
      const body = await announceBody(request.arg);
      const target = await announceTarget(RED, configId, session, clock);
      const result: AnnounceResult = await announce(target, { request: request.arg, body, at }, clock);
      return { payload: result, wiim: { command: 'announce', request: result.method === 'prompt' ? 'setPlayerCmd:playPromptUrl' : 'setPlayerCmd:play' } };
    }
    case 'queue': {
      const q = await readQueue(session, descriptionUrl(session.client.host, configDef(RED, configId)));
      return { payload: q.items, wiim: { command: 'queue', request: q.source === 'upnp-playqueue' ? 'BrowseQueue' : 'Browse', source: q.source } };
    }
    case 'queue-play': {
      const index = await playQueueIndex(session, descriptionUrl(session.client.host, configDef(RED, configId)), request.arg);
      return { payload: index, wiim: { command: 'queue-play', request: 'PlayQueueWithIndex', source: 'upnp-playqueue' } };
    }
  }
}
