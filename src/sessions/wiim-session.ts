/**
 * The runtime side of one WiiM device, owned by a wiim-config node: the
 * device's queue (one request at a time; volume commands coalesce, latest
 * wins), one adaptive poller however many wiim-status nodes listen, the last
 * known state with change detection, and the online state.
 */

import { DeviceError } from '../shared/errors';
import { DeviceSession, type Health, type SessionOptions, type StateEvent, type StateSource } from './device-session';
import { WiimClient, type CommandResult, type WiimClientOptions } from '../wiim/client';
import { prepareCommand, type PlayerEffect, type PreparedCommand, type WiimCommandName, type WiimCommandRequest } from '../wiim/commands';
import { positionFits, type WiimMeta } from '../wiim/parse';
import { UPNP_PORT } from '../wiim/upnp';
import type { WiimPlayerStatus, WiimState, WiimStatePatch } from '../wiim/state';
import { WiimEvents } from './wiim-events';
import { PushedDuringRead } from './pushed-during-read';

export interface WiimSessionOptions extends WiimClientOptions, SessionOptions {
  /** a name for messages and msg.topic (default: the host) */
  name?: string;
  /** poll interval while playing (ms) */
  pollPlayingMs?: number;
  /** poll interval otherwise (ms) */
  pollIdleMs?: number;
  /** UPnP events: `auto` uses them when the device offers them (default), `off` polls only */
  events?: 'auto' | 'off';
  /** `host[:port]` announced as the callback (empty: the address the device connection uses) */
  callback?: string;
  /** the callback port when `callback` names none (default 18491; 0: one the system picks) */
  callbackPort?: number;
  /** the UPnP description (default http://<host>:49152/description.xml) */
  descriptionUrl?: string;
  /** the consistency read while events flow (ms) */
  pollEventsMs?: number;
  /** a line for the runtime log */
  log?: (message: string) => void;
  /** a line for the debug log (event values not taken) */
  debug?: (message: string) => void;
}

/**
 * A WiiM's state event: the one shape of both families (position moving on
 * its own is not a change; a regular poll also brings the offline event),
 * with the raw replies behind the state.
 */
export interface WiimStateEvent extends StateEvent<WiimState> {
  raw: { player?: Record<string, unknown>; meta?: WiimMeta | null; slaves?: unknown };
}

export interface WiimSessionEvents {
  state: [WiimStateEvent];
  /** UPnP events started (true) or stopped (false) flowing */
  live: [boolean];
}

const STATE_FIELDS: ReadonlyArray<keyof WiimStatePatch> = [
  'state',
  'volume',
  'muted',
  'source',
  'repeat',
  'shuffle',
  'position',
  'duration',
  'trackIndex',
  'trackCount',
  'title',
  'artist',
  'album',
  'artwork',
  'eq',
  'group',
  'output',
  'eqPreset',
  'sampleRate',
  'bitDepth',
  'bitRate',
];

/** A position further than this from where it should be by now is a seek, a change. */
const POSITION_TOLERANCE_S = 3;

/** Fields every subscribed device reports by event: a poll that finds one changed without an event caught events that stopped. */
const EVENT_FIELDS = new Set(['volume', 'muted', 'state', 'repeat', 'shuffle']);

/** How often (in polls) the leader's follower list and the slow tier are read... */
const GROUP_EVERY = 6;
/** ...and at most this often (ms): a playing device's 1 s polls would read them every 6 s, though an output, an EQ preset or a group rarely changes. */
const EXTRAS_MIN_MS = 60_000;

export class WiimSession extends DeviceSession<WiimSessionEvents> {
  /** @internal */
  readonly client: WiimClient;
  readonly name: string;
  readonly pollPlayingMs: number;
  readonly pollIdleMs: number;
  private current: WiimState | undefined;
  private stateAt = 0;
  private lastRaw: WiimStateEvent['raw'] = {};
  private running = false;
  private polls = 0;
  /** the poll and the time of the last periodic read of the follower list and the slow tier */
  private extrasPoll = Number.NEGATIVE_INFINITY;
  private extrasAt = Number.NEGATIVE_INFINITY;
  private followers = 0;
  private groupDirty = true;
  /** the users that asked for getMetaInfo; made when the first asks */
  private metaUsers: Set<object> | undefined;
  private metaKey: string | undefined;
  private meta: WiimMeta | null = null;
  /** the slow-tier readings (output, EQ preset name), and the reads the device does not know */
  private slow: { output?: string | null; eqPreset?: string | null } = {};
  private slowDirty = true;
  private readonly slowUnsupported = { output: false, eq: false };
  /** @internal the UPnP subscriptions, unless events are off */
  readonly events: WiimEvents | undefined;
  private readonly pollEventsMs: number;
  private readonly debug: ((message: string) => void) | undefined;

  constructor(options: WiimSessionOptions) {
    const pollPlayingMs = Math.max(100, options.pollPlayingMs ?? 1000);
    // a failed poll of a fast-polled player is retried no later than its next poll would be
    super({ ...options, backoffMinMs: options.backoffMinMs ?? Math.min(1000, pollPlayingMs) });
    this.client = new WiimClient(options);
    this.debug = options.debug;
    this.name = options.name && options.name.trim() !== '' ? options.name.trim() : this.client.host;
    this.pollPlayingMs = pollPlayingMs;
    this.pollIdleMs = Math.max(pollPlayingMs, options.pollIdleMs ?? 5000);
    this.pollEventsMs = Math.max(this.pollIdleMs, options.pollEventsMs ?? 60_000);
    if (options.events !== 'off') {
      const host = this.client.host.includes(':') ? `[${this.client.host}]` : this.client.host;
      this.events = new WiimEvents({
        descriptionUrl: options.descriptionUrl ?? `http://${host}:${UPNP_PORT}/description.xml`,
        callback: options.callback,
        callbackPort: options.callbackPort,
        clock: this.clock,
        timeoutMs: options.timeoutMs ?? 5000,
        log: options.log,
        debug: options.debug,
        onState: (state) => this.onPush(state),
        onSlaves: () => this.onGroupEvent(),
        onGap: () => {
          if (this.running) void this.poll('poll').catch(() => undefined);
        },
        // the poll pace follows: slow while events flow, adaptive again without them
        onLive: () => {
          this.reschedulePoll();
          this.emitEvent('live', this.events?.live ?? false);
        },
      });
    }
  }

  /** The last known state (undefined before the first successful poll or offline event). */
  get state(): WiimState | undefined {
    return this.current ? { ...this.current } : undefined;
  }

  /** How many preset slots the device has, once known. */
  get presetCount(): number | undefined {
    return this.client.presetCount;
  }

  protected describe(): string {
    return this.name === this.client.host ? `WiiM ${this.client.host}` : `WiiM "${this.name}" (${this.client.host})`;
  }

  /** A wiim-status node starts listening; `meta` asks for getMetaInfo (artwork) as well. */
  override register(user: object, options?: { meta?: boolean }): void {
    if (options?.meta && !this.metaUsers?.has(user)) {
      (this.metaUsers ??= new Set()).add(user);
      this.metaKey = undefined;
    }
    super.register(user);
  }

  override deregister(user: object): void {
    this.metaUsers?.delete(user);
    if (this.metaUsers?.size === 0) this.metaUsers = undefined;
    super.deregister(user);
  }

  protected start(): void {
    this.running = true;
    this.startPolling(0);
    this.events?.start();
  }

  protected stop(): void {
    this.running = false;
    this.stopping = this.events?.stop();
  }

  private stopping: Promise<void> | undefined;

  /** Whether the state is pushed by the device (UPnP events) rather than polled. */
  get live(): boolean {
    return this.events?.live ?? false;
  }

  /** An event: merged into the state; the position moves on by itself while playing. */
  private onPush(next: WiimStatePatch): void {
    if (this.isClosed || !this.running) return;
    const prev = this.current;
    const merged: WiimStatePatch = { ...next };
    // the event checked its position against its own duration; here against the track's as known
    const duration = merged.duration !== undefined ? merged.duration : prev?.duration;
    if (merged.position !== undefined && !positionFits(merged.position, duration)) {
      this.debug?.(`UPnP events: position ${merged.position} s dropped, past the duration ${duration} s`);
      delete merged.position;
    }
    if (merged.position === undefined && prev?.position !== undefined && prev.state === 'playing') {
      merged.position = prev.position + Math.floor((this.clock.now() - this.stateAt) / 1000);
    }
    // an output the device reported by event stands until the slow tier reads another
    if (merged.output !== undefined) this.slow.output = merged.output;
    this.pushed++;
    this.update(merged, 'push');
    this.pushedDuringRead.note(merged);
  }

  /**
   * A follower joined or left (RenderingControl's `Slave` event): the
   * follower list is read now rather than with the next slow poll, and the
   * group reaches the flow as pushed. Events coalesce into one read.
   */
  private onGroupEvent(): void {
    if (this.isClosed || !this.running) return;
    this.groupDirty = true;
    void this.send(() => this.client.slaveList(), { key: 'group-event' }).then(
      (slaves) => {
        if (this.isClosed || !this.running || !this.current || this.current.group === 'follower') return;
        this.groupDirty = false;
        const members = (list: unknown) => JSON.stringify((list as { followers?: unknown } | undefined)?.followers ?? []);
        const moved = members(this.lastRaw.slaves) !== members(slaves);
        this.followers = slaves.count;
        this.lastRaw = { ...this.lastRaw, slaves };
        this.pushed++;
        // the role may stay `leader` while its members change: that is a change of the group too
        this.update({ group: slaves.count > 0 ? 'leader' : 'solo' }, 'push', moved ? 'group' : undefined);
      },
      () => undefined,
    );
  }

  private wasOffline = false;

  /** events received, for the consistency check */
  private pushed = 0;

  /** the events that arrive while a poll is out, laid over its reply */
  private readonly pushedDuringRead = new PushedDuringRead<WiimStatePatch>(layOver);

  protected probe(): Promise<WiimStateEvent> {
    return this.poll('poll');
  }

  protected releaseConnection(keepClient: boolean): void {
    this.client.release(keepClient);
  }

  protected async dispose(): Promise<void> {
    await this.stopping;
    await this.client.close();
  }

  /** A regular poll (see DeviceSession's poll loop), and the check that events still flow. */
  protected async pollRead(): Promise<void> {
    const pushedBefore = this.pushed;
    this.checkConsistency(await this.poll('poll'), pushedBefore);
  }

  /**
   * While events flow, a regular poll that finds the player changed in a
   * way no event reported means the events stopped (the device rebooted and
   * forgot us, a firewall, a lost NOTIFY): subscribe afresh.
   */
  private checkConsistency(event: WiimStateEvent, pushedBefore: number): void {
    if (!this.events?.live || this.pushed !== pushedBefore) return;
    const missed = event.changed.filter((f) => EVENT_FIELDS.has(f));
    if (missed.length > 0) this.events.resubscribe(`a poll found ${missed.join(', ')} changed without an event`);
  }

  /** Fast while playing, slower otherwise, slow while events flow. */
  protected pollInterval(): number {
    if (this.events?.live) return this.pollEventsMs;
    const s = this.current?.state;
    return s === 'playing' || s === 'loading' ? this.pollPlayingMs : this.pollIdleMs;
  }

  /** Reads the state now, emits it (source `refresh`) and resolves with the event. */
  async refresh(requester?: object): Promise<WiimStateEvent> {
    this.noteAsked();
    try {
      return await this.poll('refresh', requester);
    } finally {
      this.reschedulePoll();
    }
  }

  /** whether a read on demand joined the waiting read */
  private pollSource: StateSource = 'poll';

  /**
   * One read of the device. Reads that wait together (the timer, a refresh,
   * the re-poll after a command) coalesce into one request and one event,
   * which every caller receives and which names every requester.
   */
  private poll(source: 'poll' | 'refresh', requester?: object): Promise<WiimStateEvent> {
    if (source === 'refresh') this.pollSource = 'refresh';
    return this.send(
      () => {
        const why = this.pollSource;
        this.pollSource = 'poll';
        return this.read(why);
      },
      { key: 'poll', probe: true, requester },
    );
  }

  /** The reads of one poll, and the state they make; the events that arrive meanwhile are laid over it. */
  private async read(why: StateSource): Promise<WiimStateEvent> {
    this.pushedDuringRead.start();
    try {
      const player = await this.client.playerStatus();
      let meta: WiimMeta | null | undefined;
      let slaves: Awaited<ReturnType<WiimClient['slaveList']>> | undefined;
      const s = player.status;
      if ((this.metaUsers?.size ?? 0) > 0) {
        const key = `${s.state === 'stopped' ? '' : 'on'}|${s.source}|${s.trackIndex}|${s.title}|${s.artist}|${s.album}`;
        if (key !== this.metaKey || why === 'refresh') {
          meta = s.state === 'stopped' ? null : await this.client.metaInfo().catch((err: unknown) => softFail(err, null));
          this.metaKey = key;
        }
      }
      const periodic = this.extrasDue();
      if (s.group !== 'follower' && (this.groupDirty || periodic)) {
        slaves = await this.client.slaveList().catch((err: unknown) => softFail(err, undefined));
        this.groupDirty = false;
      }
      if (this.slowDirty || periodic) await this.readSlowTier();
      this.polls++;
      if (slaves) this.followers = slaves.count;
      if (meta !== undefined) this.meta = meta;
      if (player.raw !== this.lastRaw.player || meta !== undefined || slaves !== undefined) {
        this.lastRaw = { player: player.raw, meta: meta === undefined ? this.lastRaw.meta : meta, slaves: slaves ?? this.lastRaw.slaves };
      }
      return this.update(this.pushedDuringRead.finish(this.withExtras(player.status)), why);
    } finally {
      this.pushedDuringRead.stop();
    }
  }

  /** Whether this poll reads the follower list and the slow tier anyway: every sixth poll, and not within a minute of the last such read. */
  private extrasDue(): boolean {
    const now = this.clock.now();
    if (this.polls - this.extrasPoll < GROUP_EVERY || now - this.extrasAt < EXTRAS_MIN_MS) return false;
    this.extrasPoll = this.polls;
    this.extrasAt = now;
    return true;
  }

  /**
   * The slow tier: the output in use and the loaded EQ preset's name (a WiiM
   * does not report the preset in getPlayerStatus's `eq`; EQGetBand's Name
   * does). A read the device does not know is not asked again.
   */
  private async readSlowTier(): Promise<void> {
    this.slowDirty = false;
    const unknown = (what: 'output' | 'eq') => (err: unknown) => {
      // a model known to lack the setting is refused before sending (kind argument): never asked again either
      if (err instanceof DeviceError && (err.kind === 'argument' || /unknown command/.test(err.message))) {
        this.slowUnsupported[what] = true;
        return undefined;
      }
      return softFail(err, undefined);
    };
    if (!this.slowUnsupported.output) {
      const output = await this.client.output().catch(unknown('output'));
      if (output !== undefined) this.slow.output = output;
    }
    if (!this.slowUnsupported.eq) {
      const bands = await this.client.eqBands().catch(unknown('eq'));
      if (bands !== undefined) this.slow.eqPreset = bands.enabled ? bands.preset : null;
    }
  }

  /** Fills in what getPlayerStatus leaves out: the leader role, the slow tier, and meta (artwork). */
  private withExtras(s: WiimPlayerStatus): WiimStatePatch {
    const leader = s.group !== 'follower' && this.followers > 0;
    const withMeta = (this.metaUsers?.size ?? 0) > 0 && this.meta && s.state !== 'stopped';
    const slow = this.slow.output !== undefined || this.slow.eqPreset !== undefined;
    if (!leader && !withMeta && !slow) return s;
    const out: WiimStatePatch = { ...s };
    if (this.slow.output !== undefined) out.output = this.slow.output;
    if (this.slow.eqPreset !== undefined) out.eqPreset = this.slow.eqPreset;
    if (leader) out.group = 'leader';
    if (withMeta && this.meta) {
      out.artwork = this.meta.artwork;
      out.title ??= this.meta.title;
      out.artist ??= this.meta.artist;
      out.album ??= this.meta.album;
      out.sampleRate = this.meta.sampleRate;
      out.bitDepth = this.meta.bitDepth;
      out.bitRate = this.meta.bitRate;
    }
    return out;
  }

  /** A reading (or an expected effect) of the device: it is online. */
  private update(next: WiimStatePatch, source: StateSource, alsoChanged?: string): WiimStateEvent {
    const prev = this.current;
    const now = this.clock.now();
    const state: WiimState = { ...prev, ...next, online: true };
    const changed: string[] = [];
    if (prev?.online !== true) changed.push('online');
    // an index loop: this runs on every poll of every device, and for...of
    // allocates an iterator result per field until the optimiser takes over
    for (let i = 0; i < STATE_FIELDS.length; i++) {
      const f = STATE_FIELDS[i];
      if (!prev) {
        if (state[f] !== undefined) changed.push(f);
      } else if (f === 'position') {
        if (positionJumped(prev, state, (now - this.stateAt) / 1000)) changed.push(f);
      } else if (prev[f] !== state[f]) changed.push(f);
    }
    if (alsoChanged && !changed.includes(alsoChanged)) changed.push(alsoChanged);
    // the session's own object, replaced and never changed: listeners read it,
    // nodes copy it into their messages. A reading equal to the last (an idle
    // device) keeps the last object, so that no copy per poll ages into V8's
    // old space.
    const same = prev !== undefined && changed.length === 0 && prev.position === state.position;
    if (!same) this.current = state;
    this.stateAt = now;
    const event: WiimStateEvent = { state: same ? prev : state, changed, raw: this.lastRaw, source };
    const requesters = this.requestersFor(source);
    if (requesters) event.requesters = requesters;
    this.emitEvent('state', event);
    return event;
  }

  /** The offline event: the last known state with `online: false`, from the failed polls. */
  protected override healthChanged(health: Health): void {
    if (this.isClosed) return;
    // a device that was away has most likely rebooted and forgotten its subscribers: no renewal would say so for half an hour
    if (health === 'online' && this.wasOffline && this.events?.live) this.events.resubscribe('the device is back online');
    this.wasOffline = health === 'offline';
    if (health !== 'offline') return;
    const prev = this.current;
    this.current = { ...(prev ?? {}), online: false };
    this.stateAt = this.clock.now();
    const changed = prev?.online === false ? [] : ['online'];
    this.emitEvent('state', { state: this.current, changed, raw: this.lastRaw, source: 'poll' });
  }

  /**
   * Runs a command through the queue: a typed request is prepared here
   * (prepareCommand refuses a bad argument before anything is queued); volume
   * commands coalesce (latest wins). After a command that changes the player,
   * the state is updated at once and re-read from the device.
   */
  async command(request: WiimCommandRequest | PreparedCommand): Promise<CommandResult> {
    const prepared = 'build' in request ? request : prepareCommand(request);
    const result = await this.send(() => this.client.run(prepared), { key: prepared.command === 'volume' ? 'volume' : undefined });
    // the reading is typed by its reply's kind: the player status, the device info, the follower list
    const { reading } = result;
    if (reading.reply === 'player') {
      const s = this.withExtras(reading.value);
      result.payload = s;
      this.update(s, 'command');
      return result;
    }
    if (reading.reply === 'info') {
      if (reading.value.group !== 'follower' && this.followers > 0) result.payload = { ...reading.value, group: 'leader' };
      return result;
    }
    if (reading.reply === 'slaves') {
      this.followers = reading.value.count;
      if (this.current && this.current.group !== 'follower') this.update({ ...this.current, group: this.followers > 0 ? 'leader' : 'solo' }, 'command');
      return result;
    }
    this.forget(prepared.command);
    const expected = optimistic(prepared.command, result.effect, this.current);
    if (expected && this.current) this.update({ ...this.current, ...expected }, 'command');
    if (expected && this.running) {
      // confirm from the device at once, then carry on at the usual pace
      void this.poll('poll')
        .catch(() => undefined)
        .finally(() => this.reschedulePoll());
    }
    return result;
  }

  /** What a command makes stale: the follower list after a change of group, the slow tier after an EQ or output change. */
  private forget(command: WiimCommandName): void {
    if (command === 'join' || command === 'leave' || command === 'ungroup' || command === 'kick') this.groupDirty = true;
    if (command === 'leave' || command === 'ungroup') this.followers = 0;
    // the preset name and the output are read again with the confirming poll
    if (command === 'eq' || command === 'eq-bands' || command === 'output') this.slowDirty = true;
  }
}

/** The expected effect of a command on the state `s`; undefined for read-outs. */
function optimistic(
  command: WiimCommandName,
  effect: PlayerEffect | undefined,
  s: Readonly<WiimState> | undefined,
): PlayerEffect | Partial<WiimPlayerStatus> | undefined {
  switch (command) {
    case 'volume':
    case 'mute':
    case 'repeat':
    case 'source':
    case 'output':
      return effect ?? {};
    case 'pause':
      return s?.state === 'playing' ? { state: 'paused' } : {};
    case 'resume':
      return s?.state === 'paused' ? { state: 'playing' } : {};
    case 'toggle':
      return s?.state === 'playing' ? { state: 'paused' } : s?.state === 'paused' ? { state: 'playing' } : {};
    case 'stop':
      return { state: 'stopped' };
    case 'play':
    case 'playlist':
    case 'preset':
      return { state: 'loading' };
    case 'join':
      return { group: 'follower' };
    case 'leave':
    case 'ungroup':
      return { group: 'solo' };
    case 'kick':
    case 'eq':
    case 'eq-bands':
    case 'next':
    case 'prev':
    case 'seek':
      return {};
    default:
      return undefined;
  }
}

/** `under` with the fields of `over` laid over it. */
function layOver(under: WiimStatePatch, over: WiimStatePatch): WiimStatePatch {
  return { ...under, ...over };
}

/** A device that answers but fails an extra read (meta, follower list) leaves the poll intact. */
function softFail<T>(err: unknown, fallback: T): T {
  if (err instanceof DeviceError && (err.kind === 'device' || err.kind === 'protocol')) return fallback;
  throw err;
}

function positionJumped(prev: WiimState, next: WiimState, elapsedS: number): boolean {
  if (prev.position === undefined || next.position === undefined) return prev.position !== next.position;
  const expected = prev.state === 'playing' ? prev.position + elapsedS : prev.position;
  return Math.abs(next.position - expected) > POSITION_TOLERANCE_S;
}
