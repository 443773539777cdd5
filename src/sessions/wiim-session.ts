import type { Clock, ClockTimer } from '../shared/clock';
import { DeviceError } from '../shared/errors';
import { DeviceSession, type Health, type StateSource } from './device-session';
import type { PollGate } from './poll-gate';
import { WiimClient, type CommandResult, type WiimClientOptions } from '../wiim/client';
import type { PreparedCommand, WiimCommandName } from '../wiim/commands';
import { positionFits, type WiimInfo, type WiimMeta, type WiimPlayerStatus } from '../wiim/parse';
import { UPNP_PORT, type EventState } from '../wiim/upnp';
import { WiimEvents } from './wiim-events';

/**
 * The runtime side of one WiiM device, owned by a wiim-config node: the
 * device's queue (one request at a time; volume commands coalesce, latest
 * wins), one adaptive poller however many wiim-status nodes listen, the last
 * known state with change detection, and the online state.
 */
export interface WiimSessionOptions extends WiimClientOptions {
  /** a name for messages and msg.topic (default: the host) */
  name?: string;
  /** poll interval while playing (ms) */
  pollPlayingMs?: number;
  /** poll interval otherwise (ms) */
  pollIdleMs?: number;
  offlineAfter?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  pollGate?: PollGate;
  /** the time polls and backoff run on (default: the system clock) */
  clock?: Clock;
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

/** The state a wiim-status node emits: every field of the player, what events add (sample rate, ...), and `online`. */
export type WiimState = EventState & { online: boolean };

export interface WiimStateEvent {
  /** the session's own state object: read it, do not change it */
  state: Readonly<WiimState>;
  /** the fields that changed since the last event (position moving on its own is not a change) */
  changed: string[];
  /** the raw replies behind this state */
  raw: { player?: Record<string, unknown>; meta?: WiimMeta | null; slaves?: unknown };
  /** what brought the state: a regular poll (also the offline event), a refresh a message asked for, or a command */
  source: StateSource;
  /** the users that forced this refresh (coalesced requests share one read) */
  requesters?: ReadonlySet<object>;
}

export interface WiimSessionEvents {
  state: [WiimStateEvent];
  /** UPnP events started (true) or stopped (false) flowing */
  live: [boolean];
}

const STATE_FIELDS: ReadonlyArray<keyof EventState> = [
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

/** How often (in polls) the leader's follower list is read. */
const GROUP_EVERY = 6;

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
  /** the regular polls stopped while the device is offline (the offline probe reads instead) */
  private paused = false;
  private timer: ClockTimer | undefined;
  private polls = 0;
  private followers = 0;
  private groupDirty = true;
  private readonly metaUsers = new Set<object>();
  private metaKey: string | undefined;
  private meta: WiimMeta | null = null;
  /** the slow-tier readings (output, EQ preset name), and the reads the device does not know */
  private slow: { output?: string | null; eqPreset?: string | null } = {};
  private slowDirty = true;
  private readonly slowUnsupported = new Set<'output' | 'eq'>();
  /** @internal the UPnP subscriptions, unless events are off */
  readonly events: WiimEvents | undefined;
  private readonly pollEventsMs: number;
  private readonly debug: ((message: string) => void) | undefined;

  constructor(options: WiimSessionOptions) {
    const pollPlayingMs = Math.max(100, options.pollPlayingMs ?? 1000);
    super({
      offlineAfter: options.offlineAfter ?? 3,
      backoffMinMs: options.backoffMinMs ?? Math.min(1000, pollPlayingMs),
      backoffMaxMs: options.backoffMaxMs ?? 30000,
      pollGate: options.pollGate,
      clock: options.clock,
    });
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
          if (this.running && !this.paused) this.schedule(this.nextDelay());
          this.emitEvent('live', this.events?.live ?? false);
        },
      });
    }
    this.on('health', (health: Health) => this.onHealth(health));
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
    if (options?.meta && !this.metaUsers.has(user)) {
      this.metaUsers.add(user);
      this.metaKey = undefined;
    }
    super.register(user);
  }

  override deregister(user: object): void {
    this.metaUsers.delete(user);
    super.deregister(user);
  }

  protected start(): void {
    this.running = true;
    this.schedule(0);
    this.events?.start();
  }

  protected stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.stopping = this.events?.stop();
  }

  private stopping: Promise<void> | undefined;

  /** Whether the state is pushed by the device (UPnP events) rather than polled. */
  get live(): boolean {
    return this.events?.live ?? false;
  }

  /** An event: merged into the state; the position moves on by itself while playing. */
  private onPush(next: EventState): void {
    if (this.isClosed || !this.running) return;
    const prev = this.current;
    const merged: EventState = { ...next };
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
        this.update({ group: slaves.count > 0 ? 'leader' : 'solo' }, 'push', undefined, moved ? 'group' : undefined);
      },
      () => undefined,
    );
  }

  private wasOffline = false;

  /** events received, for the consistency check */
  private pushed = 0;

  protected probe(): Promise<WiimStateEvent> {
    return this.poll('poll');
  }

  protected resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.running && !this.timer) this.schedule(this.nextDelay());
  }

  protected releaseConnection(): void {
    this.client.release();
  }

  protected async dispose(): Promise<void> {
    await this.stopping;
    await this.client.close();
  }

  /** The poller runs while wiim-status nodes listen; while the device is offline, the session's probe reads instead. */
  private schedule(ms: number): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running || this.isClosed) return;
    if (this.health === 'offline') {
      this.paused = true;
      return;
    }
    this.idleFor(ms);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.health === 'offline') return this.schedule(0); // went offline on a command: the probe takes over
      const pushedBefore = this.pushed;
      void this.regularPoll(() => this.poll('poll'))
        .then((event) => this.checkConsistency(event, pushedBefore))
        .catch(() => undefined)
        .finally(() => this.schedule(this.nextDelay()));
    }, ms);
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

  private nextDelay(): number {
    if (this.consecutiveFailures > 0) return this.retryDelay();
    if (this.events?.live) return this.pollDelay(this.pollEventsMs);
    const s = this.current?.state;
    return this.pollDelay(s === 'playing' || s === 'loading' ? this.pollPlayingMs : this.pollIdleMs);
  }

  /** Reads the state now, emits it (source `refresh`) and resolves with the event. */
  async refresh(requester?: object): Promise<WiimStateEvent> {
    this.noteAsked();
    try {
      return await this.poll('refresh', requester);
    } finally {
      if (this.running) this.schedule(this.nextDelay());
    }
  }

  /** who asked for the waiting read, and whether any asked for a refresh */
  private pollRequesters = new Set<object>();
  private pollSource: StateSource = 'poll';

  /**
   * One read of the device. Reads that wait together (the timer, a refresh,
   * the re-poll after a command) coalesce into one request and one event,
   * which every caller receives and which names every requester.
   */
  private poll(source: 'poll' | 'refresh', requester?: object): Promise<WiimStateEvent> {
    if (requester) this.pollRequesters.add(requester);
    if (source === 'refresh') this.pollSource = 'refresh';
    return this.send(
      async () => {
        const requesters = this.pollRequesters;
        const why = this.pollSource;
        this.pollRequesters = new Set();
        this.pollSource = 'poll';
        const player = await this.client.playerStatus();
        let meta: WiimMeta | null | undefined;
        let slaves: Awaited<ReturnType<WiimClient['slaveList']>> | undefined;
        const s = player.status;
        if (this.metaUsers.size > 0) {
          const key = `${s.state === 'stopped' ? '' : 'on'}|${s.source}|${s.trackIndex}|${s.title}|${s.artist}|${s.album}`;
          if (key !== this.metaKey || why === 'refresh') {
            meta = s.state === 'stopped' ? null : await this.client.metaInfo().catch((err: unknown) => softFail(err, null));
            this.metaKey = key;
          }
        }
        if (s.group !== 'follower' && (this.groupDirty || this.polls % GROUP_EVERY === 0)) {
          slaves = await this.client.slaveList().catch((err: unknown) => softFail(err, undefined));
          this.groupDirty = false;
        }
        if (this.slowDirty || this.polls % GROUP_EVERY === 0) await this.readSlowTier();
        this.polls++;
        if (slaves) this.followers = slaves.count;
        if (meta !== undefined) this.meta = meta;
        if (player.raw !== this.lastRaw.player || meta !== undefined || slaves !== undefined) {
          this.lastRaw = { player: player.raw, meta: meta === undefined ? this.lastRaw.meta : meta, slaves: slaves ?? this.lastRaw.slaves };
        }
        return this.update(this.withExtras(player.status), why, requesters.size > 0 ? requesters : undefined);
      },
      { key: 'poll', probe: true },
    );
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
        this.slowUnsupported.add(what);
        return undefined;
      }
      return softFail(err, undefined);
    };
    if (!this.slowUnsupported.has('output')) {
      const output = await this.client.output().catch(unknown('output'));
      if (output !== undefined) this.slow.output = output;
    }
    if (!this.slowUnsupported.has('eq')) {
      const bands = await this.client.eqBands().catch(unknown('eq'));
      if (bands !== undefined) this.slow.eqPreset = bands.enabled ? bands.preset : null;
    }
  }

  /** Fills in what getPlayerStatus leaves out: the leader role, the slow tier, and meta (artwork). */
  private withExtras(s: WiimPlayerStatus): EventState {
    const leader = s.group !== 'follower' && this.followers > 0;
    const withMeta = this.metaUsers.size > 0 && this.meta && s.state !== 'stopped';
    const slow = this.slow.output !== undefined || this.slow.eqPreset !== undefined;
    if (!leader && !withMeta && !slow) return s;
    const out: EventState = { ...s };
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
  private update(next: EventState, source: StateSource, requesters?: ReadonlySet<object>, alsoChanged?: string): WiimStateEvent {
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
    if (requesters) event.requesters = requesters;
    this.emitEvent('state', event);
    return event;
  }

  /** The offline event: the last known state with `online: false`, from the failed polls. */
  private onHealth(health: Health): void {
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
   * Runs a command (checked by prepareCommand before it gets here) through
   * the queue; volume commands coalesce (latest wins). After a command that
   * changes the player, the state is updated at once and re-read from the
   * device.
   */
  async command(prepared: PreparedCommand): Promise<CommandResult> {
    const result = await this.send(() => this.client.run(prepared), { key: prepared.command === 'volume' ? 'volume' : undefined });
    if (prepared.command === 'status') {
      const s = this.withExtras(result.payload as WiimPlayerStatus);
      result.payload = s;
      this.update(s, 'command');
      return result;
    }
    if (prepared.command === 'info') {
      const info = result.payload as WiimInfo;
      if (info.group !== 'follower' && this.followers > 0) info.group = 'leader';
      return result;
    }
    if (prepared.command === 'group') {
      this.followers = (result.payload as { count: number }).count;
      if (this.current && this.current.group !== 'follower') this.update({ ...this.current, group: this.followers > 0 ? 'leader' : 'solo' }, 'command');
      return result;
    }
    const optimistic = this.optimistic(prepared.command, result.applied);
    if (optimistic && this.current) this.update({ ...this.current, ...optimistic }, 'command');
    if (optimistic && this.running) {
      // confirm from the device at once, then carry on at the usual pace
      void this.poll('poll')
        .catch(() => undefined)
        .finally(() => this.schedule(this.nextDelay()));
    }
    return result;
  }

  /** The expected effect of a command on the state; undefined for read-outs. */
  private optimistic(command: WiimCommandName, applied: unknown): Partial<WiimPlayerStatus> | undefined {
    const s = this.current;
    switch (command) {
      case 'volume':
        return { volume: applied as number };
      case 'mute':
        return { muted: applied as boolean };
      case 'repeat':
        return applied as { repeat: WiimPlayerStatus['repeat']; shuffle: boolean };
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
      case 'source':
        return { source: applied as string };
      case 'join':
        this.groupDirty = true;
        return { group: 'follower' };
      case 'leave':
      case 'ungroup':
        this.groupDirty = true;
        this.followers = 0;
        return { group: 'solo' };
      case 'kick':
        this.groupDirty = true;
        return {};
      case 'eq':
      case 'eq-bands':
      case 'output':
        // the preset name and the output are read again with the confirming poll
        this.slowDirty = true;
        return command === 'output' && typeof applied === 'string' ? { output: applied } : {};
      case 'next':
      case 'prev':
      case 'seek':
        return {};
      default:
        return undefined;
    }
  }
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
