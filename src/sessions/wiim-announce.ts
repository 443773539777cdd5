/**
 * The `announce` command of wiim-command: the announcement's run on one
 * device (the leader, for a follower), the music given back after it.
 *
 * Announcements for one device form a line: one that arrives while another
 * plays waits its turn. The player is recorded before the first of a run
 * and restored once after the last, so that two doorbells in a row never
 * leave the announcement's volume behind; the outputs of the whole run
 * leave after that restore, in order, and so do its failures (the restore
 * always runs first). The rules are in src/wiim/announce.ts.
 */

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Clock, ClockTimer } from '../shared/clock';
import { DeviceError } from '../shared/errors';
import { FileServer, localAddressTowards } from '../shared/file-server';
import {
  AUDIO_CONTENT_TYPES,
  END_POLL_MS,
  START_DEADLINE_MS,
  announcementCommand,
  chooseMethod,
  restorePlan,
  sourceFamily,
  type AnnounceRequest,
  type AudioType,
  type RecordedPlayer,
  type RestorePlan,
} from '../wiim/announce';
import { prepareCommand, wiimRequest, type WiimCommandRequest } from '../wiim/commands';
import type { WiimPlayerStatus } from '../wiim/state';
import { controlUrls, control } from './wiim-queue';
import type { WiimSession, WiimStateEvent } from './wiim-session';

/** The one output of an announcement (msg.payload). */
export interface AnnounceResult {
  method: 'prompt' | 'interrupt';
  played: true;
  /** the music plays again (true), cannot be resumed through the API (false, see reason), or nothing was playing (null) */
  resumed: boolean | null;
  reason?: string;
  /** the source before the announcement, as wiim-status names it */
  sourceBefore: string;
  device: { name: string; host: string };
  /** from the message to the output, ms */
  durationMs: number;
}

/** Where the announcement plays: the device, or its leader. */
export interface AnnounceTarget {
  session: WiimSession;
  /** the device's name for the output, where the session has none of its own (a leader's temporary session) */
  name?: string;
  /** the UPnP description of that device (for the URL being played) */
  descriptionUrl: string;
  /** called once the run is over: a session opened for the leader alone is closed */
  release?: () => Promise<void>;
}

export interface AnnounceJob {
  request: AnnounceRequest;
  /** a file's or Buffer's bytes, checked (src/wiim/announce.ts checkAudio), served by us */
  body?: { bytes: Buffer; type: AudioType };
  /** clock time the message arrived */
  at: number;
}

/** What this package last started on a device: a URL stream's URL, or a preset (service URLs expire: a preset is started again). */
const started = new WeakMap<WiimSession, { url?: string; preset?: number }>();

/** wiim-command tells what it started: `play` with a URL, `preset`; anything else that changes the source forgets it. */
export function noteStarted(session: WiimSession, command: string, applied: unknown): void {
  if (command === 'play' && typeof applied === 'string') started.set(session, { url: applied });
  else if (command === 'preset' && typeof applied === 'number') started.set(session, { preset: applied });
  else if (command === 'playlist' || command === 'source' || command === 'queue-play' || command === 'join') started.delete(session);
}

interface Pending {
  job: AnnounceJob;
  resolve(result: AnnounceResult): void;
  reject(err: unknown): void;
}

interface Line {
  target: AnnounceTarget;
  clock: Clock;
  pending: Pending[];
}

/** One line per device address, for as long as a run lasts. */
const lines = new Map<string, Line>();

/** Plays one announcement on `target`, after any that wait for that device; resolves once the music is back. */
export function announce(target: AnnounceTarget, job: AnnounceJob, clock: Clock): Promise<AnnounceResult> {
  const key = target.session.client.host;
  return new Promise((resolve, reject) => {
    const waiting = lines.get(key);
    if (waiting) {
      waiting.pending.push({ job, resolve, reject });
      // a second handle on the same device (a leader's temporary session): the run's own one plays it
      if (waiting.target !== target) void target.release?.();
      return;
    }
    const line: Line = { target, clock, pending: [{ job, resolve, reject }] };
    lines.set(key, line);
    void runLine(line).finally(() => {
      lines.delete(key);
      void target.release?.();
    });
  });
}

async function runLine(line: Line): Promise<void> {
  // what arrives during a restore starts a run of its own after it
  while (line.pending.length > 0) await runBatch(line);
}

type Outcome = { pending: Pending; method: 'prompt' | 'interrupt' } | { pending: Pending; error: unknown };

async function runBatch(line: Line): Promise<void> {
  const { session } = line.target;
  let recorded: Recorded;
  try {
    recorded = await record(line.target);
  } catch (err) {
    // nothing was changed yet: nothing to restore
    for (const p of line.pending.splice(0)) p.reject(err);
    return;
  }
  const outcomes: Outcome[] = [];
  let interrupted = false;
  for (let p = line.pending.shift(); p; p = line.pending.shift()) {
    const { request } = p.job;
    // once the music is down for one announcement, the rest of the run plays the same way
    let method = interrupted && request.mode === 'auto' ? 'interrupt' : chooseMethod(request.mode, recorded.player, request.volume !== undefined);
    try {
      if (method === 'prompt') {
        const accepted = await playPrompt(line, p.job).catch((err: unknown) => {
          // WiiM firmware that has no playPromptUrl answers `unknown command` (mjcumming/wiim TTS guide): auto interrupts instead
          if (request.mode === 'auto' && err instanceof DeviceError && /unknown command/.test(err.message)) return false;
          throw err;
        });
        if (!accepted) method = 'interrupt';
      }
      if (method === 'interrupt') {
        if (!interrupted) await recorded.url?.();
        interrupted = true;
        await playInterrupt(line, p.job, recorded.player);
      }
      outcomes.push({ pending: p, method });
    } catch (err) {
      if (method === 'interrupt') interrupted = true;
      outcomes.push({ pending: p, error: err });
    }
  }
  let plan: RestorePlan | undefined;
  let restoreError: unknown;
  if (interrupted) {
    plan = restorePlan(recorded.player);
    try {
      for (const step of plan.steps) await run(session, step as WiimCommandRequest);
    } catch (err) {
      restoreError = err;
    }
  }
  const device = { name: line.target.name ?? session.name, host: session.client.host };
  const wasPlaying = recorded.player.state === 'playing' || recorded.player.state === 'loading';
  for (const o of outcomes) {
    if ('error' in o) o.pending.reject(o.error);
    else if (restoreError) o.pending.reject(restoreError);
    else {
      const result: AnnounceResult = {
        method: o.method,
        played: true,
        // the firmware brings the music back itself after a prompt
        resumed: plan ? plan.resumed : wasPlaying ? true : null,
        sourceBefore: recorded.source,
        device,
        durationMs: line.clock.now() - o.pending.job.at,
      };
      if (plan?.reason) result.reason = plan.reason;
      o.pending.resolve(result);
    }
  }
}

interface Recorded {
  player: RecordedPlayer;
  source: string;
  /** reads the URL that plays, where a stream plays (once, before the first interrupt) */
  url?: () => Promise<string | undefined>;
}

function run(session: WiimSession, request: WiimCommandRequest) {
  return session.command(prepareCommand(request));
}

async function readStatus(session: WiimSession): Promise<{ status: WiimPlayerStatus; mode: number }> {
  const result = await run(session, wiimRequest('status'));
  let mode = Number.NaN;
  try {
    mode = Number((JSON.parse(result.raw) as { mode?: unknown }).mode);
  } catch {
    // a reply the status parser read but that is not JSON: the mode stays unknown
  }
  return { status: result.payload as WiimPlayerStatus, mode: Number.isFinite(mode) ? mode : -1 };
}

/**
 * The player before the run: play state, volume, mute, source, position,
 * loop; the URL where a URL stream plays (UPnP GetMediaInfo CurrentURI or
 * GetPositionInfo TrackURI, else the last URL this package played), or the
 * preset this package started.
 */
async function record(target: AnnounceTarget): Promise<Recorded> {
  const { session } = target;
  const { status, mode } = await readStatus(session);
  const player: RecordedPlayer = {
    state: status.state,
    mode,
    volume: status.volume,
    muted: status.muted,
    position: status.position ?? null,
    duration: status.duration ?? null,
    repeat: status.repeat ?? null,
    shuffle: status.shuffle ?? null,
  };
  const ours = started.get(session);
  const recorded: Recorded = { player, source: status.source };
  if (sourceFamily(mode) === 'stream' && status.state !== 'stopped') {
    if (ours?.preset !== undefined) player.preset = ours.preset;
    // read only before the first interrupt (a prompt needs no URL): until then the stream still plays
    else recorded.url = async () => (player.url ??= (await playingUrl(target)) ?? ours?.url);
  }
  return recorded;
}

/** The URL the device plays, from UPnP; undefined where the device has no UPnP or does not say. */
async function playingUrl(target: AnnounceTarget): Promise<string | undefined> {
  try {
    const urls = await controlUrls(target.session, target.descriptionUrl);
    if (!urls.avTransport) return undefined;
    const media = await control(target.session, urls.avTransport, 'avTransport', 'GetMediaInfo', [['InstanceID', 0]]);
    if (/^https?:\/\//i.test(media.CurrentURI ?? '')) return media.CurrentURI;
    const position = await control(target.session, urls.avTransport, 'avTransport', 'GetPositionInfo', [['InstanceID', 0]]);
    return /^https?:\/\//i.test(position.TrackURI ?? '') ? position.TrackURI : undefined;
  } catch {
    return undefined;
  }
}

/** The device's IPv4 or IPv6 address (the file server admits it alone). */
async function deviceAddress(session: WiimSession): Promise<string> {
  const host = session.client.host;
  if (isIP(host)) return host;
  return (await lookup(host)).address;
}

/** Serves a file or Buffer on the local address that reaches the device, to that device only, for as long as the announcement lasts. */
async function serve(session: WiimSession, body: NonNullable<AnnounceJob['body']>, timeoutS: number): Promise<FileServer> {
  const allow = await deviceAddress(session);
  const server = new FileServer({
    body: body.bytes,
    allow,
    bindAddress: await localAddressTowards(allow),
    contentType: AUDIO_CONTENT_TYPES[body.type],
    fileName: `announcement.${body.type}`,
    // a safety net only: the run closes it
    timeoutMs: timeoutS * 1000 + START_DEADLINE_MS,
  });
  await server.start();
  const forget = session.onClose(() => server.close());
  const close = server.close.bind(server);
  server.close = () => {
    forget();
    return close();
  };
  return server;
}

/** Resolves after `ms` on the clock. */
function delay(clock: Clock, ms: number): { done: Promise<void>; cancel(): void } {
  let timer: ClockTimer | undefined;
  const done = new Promise<void>((resolve) => {
    timer = clock.setTimeout(resolve, ms);
  });
  return { done, cancel: () => clock.clearTimeout(timer) };
}

/**
 * Waits until `check` holds for the player: on each pushed state (UPnP
 * events, when they flow) and on a status read every END_POLL_MS while
 * they do not. Resolves true, or false when `deadline` (clock time) passes.
 */
async function waitFor(session: WiimSession, clock: Clock, deadline: number, check: (s: Readonly<Partial<WiimPlayerStatus>>) => boolean): Promise<boolean> {
  let met = false;
  let wake: (() => void) | undefined;
  const onState = (e: WiimStateEvent) => {
    if (e.source === 'push' && check(e.state)) {
      met = true;
      wake?.();
    }
  };
  session.on('state', onState);
  // a session that closes (a redeploy) ends the wait at once
  const forget = session.onClose(() => wake?.());
  try {
    while (!met) {
      if (session.isClosed) throw new DeviceError('closed', 'the device connection closed during the announcement');
      if (clock.now() >= deadline) return false;
      if (session.live && session.state && check(session.state)) return true;
      if (!session.live) {
        const { status } = await readStatus(session);
        if (check(status)) return true;
      }
      const wait = delay(clock, Math.min(END_POLL_MS, Math.max(0, deadline - clock.now())));
      await Promise.race([wait.done, new Promise<void>((resolve) => (wake = resolve))]);
      wait.cancel();
    }
    return true;
  } finally {
    forget();
    session.off('state', onState);
  }
}

/** playPromptUrl; a served file stays up until the device has fetched it, at most `timeout`. */
async function playPrompt(line: Line, job: AnnounceJob): Promise<boolean> {
  const { session } = line.target;
  const { request } = job;
  const server = job.body ? await serve(session, job.body, request.timeoutS) : undefined;
  try {
    const url = server ? server.url : (request.source as { url: string }).url;
    await session.command(announcementCommand('prompt', url));
    if (!server) return true;
    const deadline = job.at + request.timeoutS * 1000;
    while (server.bytesServed < server.body.length) {
      if (session.isClosed) throw new DeviceError('closed', 'the device connection closed during the announcement');
      if (line.clock.now() >= deadline) throw new DeviceError('timeout', `the device did not fetch the announcement within ${request.timeoutS} s`);
      const wait = delay(line.clock, Math.min(END_POLL_MS, deadline - line.clock.now()));
      let forget = () => undefined as void;
      await Promise.race([wait.done, new Promise<void>((resolve) => (forget = session.onClose(resolve)))]);
      forget();
      wait.cancel();
    }
    return true;
  } finally {
    await server?.close();
  }
}

/** Plays the announcement as the player's content, and waits until it has ended (the restore follows the run). */
async function playInterrupt(line: Line, job: AnnounceJob, before: RecordedPlayer): Promise<void> {
  const { session } = line.target;
  const { clock } = line;
  const { request } = job;
  if (request.volume !== undefined) await run(session, { command: 'volume', arg: request.volume });
  if (before.muted) await run(session, { command: 'mute', arg: false });
  const server = job.body ? await serve(session, job.body, request.timeoutS) : undefined;
  try {
    const url = server ? server.url : (request.source as { url: string }).url;
    await session.command(announcementCommand('interrupt', url));
    const end = job.at + request.timeoutS * 1000;
    // a served clip shorter than a poll may be over before a read sees it playing: fetched whole and no longer loading counts
    const fetched = () => server !== undefined && server.bytesServed >= server.body.length;
    // 10 s, or the whole timeout where that is shorter
    const startBy = Math.min(end, clock.now() + START_DEADLINE_MS);
    const waitedS = Math.max(0, Math.round((startBy - clock.now()) / 100) / 10);
    const started = await waitFor(session, clock, startBy, (s) => s.state === 'playing' || (fetched() && s.state !== 'loading'));
    if (!started) {
      await run(session, wiimRequest('stop')).catch(() => undefined);
      throw new DeviceError('network', `the device did not start playing the announcement within ${waitedS} s: it could not fetch ${url}`);
    }
    const ended = await waitFor(session, clock, end, (s) => s.state !== 'playing' && s.state !== 'loading');
    if (!ended) {
      await run(session, wiimRequest('stop')).catch(() => undefined);
      throw new DeviceError('timeout', `the announcement did not end within ${request.timeoutS} s`);
    }
  } finally {
    await server?.close();
  }
}
