/**
 * A WiiM / LinkPlay device on loopback: the API of "HTTP API for WiiM Mini"
 * with state (player with a position that advances in real time, volume,
 * mute, loop, EQ, presets, alarms, shutdown timer, multiroom), the reply
 * forms of real firmware (plain OK, JSON, `Failed`, `unknown command`, an
 * empty body for reboot), and fault switches for tests. It imports nothing
 * from src/wiim, so that a misreading there cannot pass on both sides.
 */

import http from 'node:http';
import net from 'node:net';
import { createSelfSignedCertificate, type SelfSignedCertificate } from './cert';
import type { AdvertisedInstance } from './mdns-advertiser';
import { commonFaults, SimServer, type CommonFaults, type Reply, type TlsSettings } from './sim-server';
import { PROFILES, type WiimProfile, type WiimProfileName } from './wiim-profiles';
import { UpnpSim, type ControlReply, type UpnpModel } from './wiim-upnp-sim';
import { lacks, profileExecute, soundCardMode } from './wiim-profile-replies';

export interface WiimSimOptions {
  /** 0 = an ephemeral port */
  port?: number;
  host?: string;
  name?: string;
  protocol?: 'https' | 'http';
  /** old firmware: TLS 1.0/1.1 only with weak settings (clients need relaxed TLS) */
  legacyTls?: boolean;
  /** advertise `_linkplay._tcp` over mDNS (off unless asked for) */
  mdns?: boolean;
  /** the model to answer as (default: mini), see wiim-profiles.ts */
  model?: WiimProfileName;
  /** the firmware version it reports (default: the profile's) */
  firmware?: string;
  /** mutual TLS: the client certificate (PEM) accepted; the audio-pro profile makes one when none is given */
  clientCa?: string;
  /** the UPnP port (default: 49152 on an address of its own like 127.0.0.2, an ephemeral port on 127.0.0.1); false = no UPnP server */
  upnpPort?: number | false;
}

export type SimPlayState = 'play' | 'pause' | 'stop' | 'loading';

export interface SimPreset {
  number: number;
  name: string;
  url: string;
  source: string;
  picurl: string;
}

export interface SimAlarm {
  enable: boolean;
  trigger: number;
  operation: number;
  time: string;
  day: string;
  url: string;
}

export interface SimTrack {
  title: string;
  artist: string;
  album: string;
  artwork: string;
  /** ms; <= 0 for a stream */
  durationMs: number;
}

export interface WiimSimState {
  name: string;
  model: string;
  firmware: string;
  uuid: string;
  mac: string;
  ssid: string;
  ip: string;
  rssi: number;
  status: SimPlayState;
  /** getPlayerStatus mode (10 = network playback, 40 line-in, 41 bluetooth, 43 optical, 11 USB, 99 follower) */
  mode: number;
  url: string;
  playlist: { url: string; index: number } | null;
  tracks: SimTrack[];
  trackIndex: number;
  volume: number;
  muted: boolean;
  loop: number;
  eqOn: boolean;
  eqPreset: string;
  eqList: string[];
  presets: SimPreset[];
  presetKeys: number;
  alarms: SimAlarm[];
  /** epoch ms when the shutdown timer fires, or null */
  shutdownAt: number | null;
  /** the last timeSync value */
  timeSync: string | null;
  /** leader address when this device follows one */
  leader: string | null;
  followers: Array<{ name: string; ip: string; uuid: string; volume: number; mute: boolean }>;
  reboots: number;
  wifiState: 'OK' | 'PROCESS' | 'PAIRFAIL' | 'FAIL';
}

export interface WiimSimFaults extends CommonFaults {
  /** close keep-alive connections idle this long (0 = never) */
  closeIdleAfterMs: number;
  /** hex-encode Title/Artist/Album in getPlayerStatus (most firmware does) */
  hexMeta: boolean;
  /** never answer (the request hangs until the client gives up) */
  hang: boolean;
  /** send the reply one byte at a time, this many ms apart (0 = off) */
  slowDripMs: number;
  /** commands answered `unknown command`, as firmware without them answers (by the part before the first colon) */
  unknownCommands: string[];
}

const EQ_LIST = [
  'Flat',
  'Acoustic',
  'Bass Booster',
  'Bass Reducer',
  'Classical',
  'Dance',
  'Deep',
  'Electronic',
  'Hip-Hop',
  'Jazz',
  'Latin',
  'Loudness',
  'Lounge',
  'Piano',
  'Pop',
  'R&B',
  'Rock',
  'Small Speakers',
  'Spoken Word',
  'Treble Booster',
  'Treble Reducer',
  'Vocal Booster',
];

const SWITCH_MODES: Record<string, number> = {
  'line-in': 40,
  'line-in2': 47,
  bluetooth: 41,
  optical: 43,
  'co-axial': 45,
  udisk: 11,
  wifi: 10,
  HDMI: 49,
  PCUSB: 51,
};

/** EQSetBand's band names by index (WiiM HTTP API: band31hz ... band16khz). */
/** The settings of the models beyond the Mini. */
export interface WiimSimSettings {
  /** setAudioOutputHardwareMode number of the wired (or jack, speaker) output in use */
  output: number;
  /** Bluetooth output is on: getNewAudioOutputHardwareMode keeps `hardware` and says `source` 1 (pywiim wiim#270, wiim#86) */
  bluetoothOut: boolean;
  balance: number;
  led: boolean;
  buttons: boolean;
  sub: { status: boolean; cross: number; phase: number; level: number; sub_delay: number };
  trigger: boolean;
  eqBands: number[];
  /** the URLs of playPromptUrl, in order */
  prompts: string[];
  /** the prompts the firmware played over the music (modes 10-20 while playing); the others were accepted and stayed silent */
  promptsPlayed: string[];
  updating: boolean;
}

function defaultSettings(): WiimSimSettings {
  return {
    output: 2,
    bluetoothOut: false,
    balance: 0,
    led: true,
    buttons: true,
    sub: { status: false, cross: 80, phase: 0, level: 0, sub_delay: 0 },
    trigger: false,
    eqBands: Array.from({ length: 10 }, () => 50),
    prompts: [],
    promptsPlayed: [],
    updating: false,
  };
}

function defaultFaults(): WiimSimFaults {
  return { ...commonFaults(), closeIdleAfterMs: 0, hexMeta: true, hang: false, slowDripMs: 0, unknownCommands: [] };
}

export function defaultWiimState(name = 'WiiM Mini-8FA2'): WiimSimState {
  return {
    name,
    model: 'Muzo_Mini',
    firmware: 'Linkplay.4.6.425351',
    uuid: 'FF970016A6FE22C1660AB4D8',
    mac: '08:E9:F6:8F:8F:A2',
    ssid: 'Home Wi-Fi',
    ip: '127.0.0.1',
    rssi: -42,
    status: 'stop',
    mode: 10,
    url: '',
    playlist: null,
    tracks: [
      { title: 'Blue in Green', artist: 'Miles Davis', album: 'Kind of Blue', artwork: 'https://img.example.invalid/kind-of-blue.jpg', durationMs: 337000 },
      { title: 'So What', artist: 'Miles Davis', album: 'Kind of Blue', artwork: 'https://img.example.invalid/kind-of-blue.jpg', durationMs: 562000 },
      {
        title: 'Freddie Freeloader',
        artist: 'Miles Davis',
        album: 'Kind of Blue',
        artwork: 'https://img.example.invalid/kind-of-blue.jpg',
        durationMs: 586000,
      },
    ],
    trackIndex: 0,
    volume: 30,
    muted: false,
    loop: 4,
    eqOn: false,
    eqPreset: 'Flat',
    eqList: [...EQ_LIST],
    presets: [
      { number: 1, name: 'Jazz Radio', url: 'http://radio.example.invalid/jazz.mp3', source: 'newTuneIn', picurl: 'https://img.example.invalid/jazz.png' },
      { number: 2, name: 'News', url: 'http://radio.example.invalid/news.aac', source: 'newTuneIn', picurl: 'https://img.example.invalid/news.png' },
    ],
    presetKeys: 6,
    alarms: [0, 1, 2].map(() => ({ enable: false, trigger: 0, operation: 0, time: '', day: '', url: '' })),
    shutdownAt: null,
    timeSync: null,
    leader: null,
    followers: [],
    reboots: 0,
    wifiState: 'OK',
  };
}

const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex').toUpperCase();

/** What a device shows for a bare URL with no tags: the name of the file or stream, nothing else. */
function trackFromUrl(url: string): SimTrack {
  let title = url;
  try {
    const u = new URL(url);
    const segment = u.pathname.split('/').filter(Boolean).pop();
    title = segment ? decodeURIComponent(segment) : u.host;
  } catch {
    // not a URL the WHATWG parser takes: the firmware shows what it was given
  }
  return { title, artist: '', album: '', artwork: '', durationMs: 0 };
}

export class WiimSimulator extends SimServer<string, WiimSimFaults> {
  state: WiimSimState;
  faults: WiimSimFaults = defaultFaults();
  /** every command string received, percent-decoded, in order */
  declare readonly requests: string[];
  private readonly options: WiimSimOptions;
  private certificate: SelfSignedCertificate | undefined;
  /** position bookkeeping: ms at `since` (epoch ms) while playing */
  private positionMs = 0;
  private since = Date.now();
  /** what `play:<url>` plays, shown instead of the track list until another track starts */
  private urlTrack: SimTrack | null = null;
  /** the model this simulator answers as */
  readonly profile: WiimProfile;
  /** the client certificate and key a mutual-TLS profile accepts (made at start; no key ships) */
  clientCertificate: SelfSignedCertificate | undefined;
  /** the device's settings beyond the Mini's (wiim-profiles.ts) */
  settings = defaultSettings();
  /** the UPnP description, subscriptions, NOTIFYs and control actions (see wiim-upnp-sim.ts) */
  readonly upnp = new UpnpSim(
    () => this.host,
    () => this.upnpModel(),
    (service, action, args) => this.control(service, action, args),
  );
  /**
   * How long a URL (`play:`) or a prompt plays once the device has fetched
   * it, in ms; 0: until endMedia() is called (the control API of tests).
   */
  mediaLengthMs = 0;
  /** every fetch of a URL the device was told to play, in order (only http: URLs on loopback are fetched: the sim reaches no other network) */
  readonly fetches: Array<{ url: string; status: number; bytes: number; body: Buffer; prompt: boolean }> = [];
  /** the URL or prompt playing now, and what its end restores */
  private media: { token: number; prompt: boolean; duckedFrom?: number; timer?: NodeJS.Timeout } | undefined;
  private mediaToken = 0;
  /** fetches in flight (tests on a fake clock wait for them) */
  fetching = 0;

  constructor(options: WiimSimOptions = {}) {
    super(options.host, 5000);
    this.options = options;
    this.profile = PROFILES[options.model ?? 'mini'];
    this.state = this.profiled(defaultWiimState(options.name));
  }

  /** The profile's identity and quirks on a fresh state. */
  private profiled(state: WiimSimState): WiimSimState {
    const p = this.profile;
    state.model = p.project;
    state.uuid = p.uuid;
    state.firmware = this.options.firmware ?? p.firmware;
    state.eqList = [...state.eqList, ...(p.userEqPresets ?? [])];
    return state;
  }

  get protocol(): 'https' | 'http' {
    return this.options.protocol ?? 'https';
  }

  /** SHA-256 fingerprint of the certificate served (AA:BB:...). */
  get fingerprint(): string | undefined {
    return this.certificate?.fingerprint256;
  }

  /** How many requests for a command (prefix match, e.g. 'getPlayerStatus'). */
  count(prefix: string): number {
    return this.requests.filter((r) => r === prefix || r.startsWith(`${prefix}:`)).length;
  }

  async start(opts: WiimSimOptions = {}): Promise<{ port: number; url: string }> {
    if (this.listening) throw new Error('the simulator is already running');
    Object.assign(this.options, Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)));
    if (opts.name) this.state.name = opts.name;
    this.host = this.options.host ?? '127.0.0.1';
    let tls: TlsSettings | undefined;
    if (this.protocol === 'https') {
      this.certificate ??= createSelfSignedCertificate(this.state.name);
      const legacy = this.options.legacyTls ? { maxVersion: 'TLSv1.1' as const, minVersion: 'TLSv1' as const, ciphers: 'DEFAULT:@SECLEVEL=0' } : {};
      tls = { key: this.certificate.key, cert: this.certificate.cert, ...legacy };
      if (this.profile.mutualTls || this.options.clientCa) {
        if (!this.options.clientCa) this.clientCertificate ??= createSelfSignedCertificate('wiim-sim client');
        tls = { ...tls, requestCert: true, rejectUnauthorized: true, ca: this.options.clientCa ?? this.clientCertificate?.cert };
      }
    }
    await this.listen(this.options.port ?? 0, tls);
    if (this.options.upnpPort !== false) await this.upnp.start(this.options.upnpPort);
    if (this.options.mdns) this.advertiser.start();
    return { port: this.port, url: this.url };
  }

  /** Where the UPnP description is (its path is the sim's own, not the usual /description.xml). */
  get descriptionUrl(): string {
    return this.upnp.descriptionUrl;
  }

  /**
   * A change made on the device itself (the volume knob, the phone app, the
   * front panel, a track that ends): applied to the state, then announced to
   * every UPnP subscriber, as a command's effects are.
   */
  device(change: (sim: this) => void): void {
    change(this);
    this.upnp.changed();
  }

  /** The playing track ends: the next one starts. */
  endTrack(): void {
    this.device(() => this.playTrack((this.state.trackIndex + 1) % Math.max(1, this.state.tracks.length)));
  }

  private upnpModel(): UpnpModel {
    const s = this.state;
    return {
      name: s.name,
      uuid: s.uuid,
      status: s.status,
      mode: s.mode,
      volume: s.volume,
      muted: s.muted,
      loop: s.loop,
      trackIndex: s.trackIndex,
      track: this.track,
      position: this.position,
      followers: s.followers.map((f) => f.ip),
      output: lacks(this, 'output') ? '' : soundCardMode(this.profile, this.settings),
      contentDirectory: !!this.profile.contentDirectory,
    };
  }

  /** The URL of a track of the queue (the sim's tracks have none of their own). */
  trackUrl(index: number): string {
    return `http://media.example.invalid/kind-of-blue/${index + 1}.flac`;
  }

  private didlItem(t: SimTrack, id: string, url: string): string {
    const x = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const d = Math.floor(t.durationMs / 1000);
    const hms = `${Math.floor(d / 3600)}:${String(Math.floor(d / 60) % 60).padStart(2, '0')}:${String(d % 60).padStart(2, '0')}`;
    return (
      `<item id="${id}" parentID="Q:0" restricted="1"><dc:title>${x(t.title)}</dc:title><upnp:artist>${x(t.artist)}</upnp:artist>` +
      `<upnp:album>${x(t.album)}</upnp:album><upnp:albumArtURI>${x(t.artwork)}</upnp:albumArtURI>` +
      `<res protocolInfo="http-get:*:audio/flac:*" duration="${hms}.000">${x(url)}</res><upnp:class>object.item.audioItem.musicTrack</upnp:class></item>`
    );
  }

  private didl(items: string): string {
    return (
      `<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" ` +
      `xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/">${items}</DIDL-Lite>`
    );
  }

  /**
   * The UPnP control actions the integrations call (pywiim upnp/client.py,
   * upnp/playqueue.py): AVTransport GetMediaInfo and GetPositionInfo on
   * every model with UPnP; PlayQueue BrowseQueue and PlayQueueWithIndex, and
   * ContentDirectory Browse of Q:0, on the models that have them.
   */
  private control(service: string, action: string, args: Record<string, string>): ControlReply | undefined {
    const s = this.state;
    const x = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const hms = (ms: number) => {
      const d = Math.max(0, Math.floor(ms / 1000));
      return `${Math.floor(d / 3600)}:${String(Math.floor(d / 60) % 60).padStart(2, '0')}:${String(d % 60).padStart(2, '0')}`;
    };
    const streaming = s.mode >= 10 && s.mode <= 20 && s.status !== 'stop' ? s.url : '';
    if (service === 'avt' && action === 'GetMediaInfo') {
      return {
        out: {
          NrTracks: String(s.tracks.length),
          MediaDuration: hms(this.track.durationMs),
          CurrentURI: streaming,
          CurrentURIMetaData: '',
          PlayMedium: 'NETWORK',
        },
      };
    }
    if (service === 'avt' && action === 'GetPositionInfo') {
      return {
        out: {
          Track: String(s.trackIndex + 1),
          TrackDuration: hms(this.track.durationMs),
          TrackURI: streaming,
          RelTime: hms(this.position),
          AbsTime: hms(this.position),
        },
      };
    }
    if (service === 'pq' && this.profile.playQueue && action === 'BrowseQueue') {
      if (args.QueueName !== 'CurrentQueue') return { error: 402, description: 'Invalid Args' };
      const tracks = s.tracks
        .map(
          (t, i) =>
            `<Track${i + 1}><URL>${x(this.trackUrl(i))}</URL><Metadata>${x(this.didl(this.didlItem(t, String(i + 1), this.trackUrl(i))))}</Metadata><Source>OnlineMusic</Source><Id>${i + 1}</Id></Track${i + 1}>`,
        )
        .join('');
      const list =
        `<?xml version="1.0"?><PlayList><ListName>CurrentQueue</ListName><ListInfo><QueueVersion>2.0</QueueVersion><SourceName>Local</SourceName>` +
        `<TotalNumber>${s.tracks.length}</TotalNumber><TrackNumber>${s.trackIndex + 1}</TrackNumber><LastPlayIndex>${s.trackIndex + 1}</LastPlayIndex></ListInfo><Tracks>${tracks}</Tracks></PlayList>`;
      return { out: { QueueContext: list } };
    }
    if (service === 'pq' && this.profile.playQueue && action === 'PlayQueueWithIndex') {
      const i = Number(args.Index);
      if (args.QueueName !== 'CurrentQueue' || !Number.isInteger(i) || i < 1 || i > s.tracks.length) return { error: 402, description: 'Invalid Args' };
      this.device(() => {
        s.mode = 10;
        s.url = this.trackUrl(i - 1);
        this.playTrack(i - 1);
      });
      return { out: {} };
    }
    if (service === 'cd' && this.profile.contentDirectory && action === 'Browse') {
      if (args.ObjectID !== 'Q:0') return { error: 701, description: 'No such object' };
      const items = s.tracks.map((t, i) => this.didlItem(t, `Q:0/${i + 1}`, this.trackUrl(i))).join('');
      return { out: { Result: this.didl(items), NumberReturned: String(s.tracks.length), TotalMatches: String(s.tracks.length), UpdateID: '1' } };
    }
    return undefined;
  }

  /** What a LinkPlay device puts in its `_linkplay._tcp` record. */
  protected advertisement(): AdvertisedInstance {
    return {
      service: '_linkplay._tcp.local',
      instance: this.state.name,
      host: this.host,
      port: this.port,
      txt: ['txtvers=1', `uuid=${this.state.uuid}`, `project=${this.state.model}`, `devicename=${this.state.name}`, `firmware=${this.state.firmware}`],
    };
  }

  async stop(): Promise<void> {
    this.cancelMedia();
    await this.upnp.stop();
    await this.shutdown();
  }

  /** A new certificate, served from the next connection on ("the certificate changed"). */
  regenerateCertificate(): string {
    return this.setCertificate(createSelfSignedCertificate(this.state.name));
  }

  /** Serves the given certificate from the next connection on; returns its fingerprint. */
  setCertificate(certificate: SelfSignedCertificate): string {
    this.certificate = certificate;
    this.setSecureContext({ key: certificate.key, cert: certificate.cert });
    this.dropConnections();
    return certificate.fingerprint256;
  }

  /** Back to the initial state, no faults, an empty request log. */
  reset(): void {
    this.state = this.profiled(defaultWiimState(this.options.name));
    this.settings = defaultSettings();
    this.faults = defaultFaults();
    this.requests.length = 0;
    this.sendHeld();
    this.upnp.reset();
    this.cancelMedia();
    this.mediaLengthMs = 0;
    this.fetches.length = 0;
    this.urlTrack = null;
    this.positionMs = 0;
    this.since = Date.now();
  }

  // ------------------------------------------------------------ player model

  get track(): SimTrack {
    return this.urlTrack ?? this.state.tracks[this.state.trackIndex] ?? { title: '', artist: '', album: '', artwork: '', durationMs: 0 };
  }

  /** Position in ms, advancing in real time while playing. */
  get position(): number {
    if (this.state.status !== 'play') return this.positionMs;
    const p = this.positionMs + (Date.now() - this.since);
    const d = this.track.durationMs;
    return d > 0 ? Math.min(p, d) : p;
  }

  set position(ms: number) {
    this.positionMs = Math.max(0, ms);
    this.since = Date.now();
  }

  /** Sets the play state, keeping the position. */
  setStatus(status: SimPlayState): void {
    const p = this.position;
    this.state.status = status;
    this.position = p;
  }

  /** Starts the given track index from its beginning (playing). */
  playTrack(index: number): void {
    this.cancelMedia();
    this.urlTrack = null;
    this.state.trackIndex = Math.max(0, Math.min(index, this.state.tracks.length - 1));
    this.state.status = 'play';
    this.position = 0;
  }

  // ------------------------------------------------------------ media the device fetches

  /** http: on a loopback address: the sim fetches it; anything else plays unfetched (no traffic leaves loopback). */
  private fetchable(url: string): URL | undefined {
    try {
      const u = new URL(url);
      const host = u.hostname.replace(/^\[|\]$/g, '');
      return u.protocol === 'http:' && (host.startsWith('127.') || host === '::1' || host === 'localhost') ? u : undefined;
    } catch {
      return undefined;
    }
  }

  /** One GET from the device's own address, as the firmware fetches a URL it is told to play; resolves true for a 2xx with its body read. */
  private fetchMedia(u: URL, prompt: boolean): Promise<boolean> {
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const localAddress = net.isIPv4(host) && net.isIPv4(this.host) ? this.host : undefined;
    this.fetching++;
    return new Promise<boolean>((resolve) => {
      const req = http.get({ host, port: u.port || 80, path: `${u.pathname}${u.search}`, localAddress, agent: false, timeout: 5000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 0;
          this.fetches.push({ url: u.href, status, bytes: body.length, body, prompt });
          resolve(status >= 200 && status < 300);
        });
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => {
        this.fetches.push({ url: u.href, status: 0, bytes: 0, body: Buffer.alloc(0), prompt });
        resolve(false);
      });
    }).finally(() => this.fetching--);
  }

  /** A URL or prompt that was playing stops mattering: another command took over. */
  private cancelMedia(): void {
    if (this.media?.timer) clearTimeout(this.media.timer);
    if (this.media?.duckedFrom !== undefined) this.state.volume = this.media.duckedFrom;
    this.media = undefined;
    this.mediaToken++;
  }

  /** `play:<url>`: loading while the device fetches it, playing for mediaLengthMs, then stopped; stopped at once when it cannot be fetched. */
  private startUrl(url: string): void {
    this.cancelMedia();
    this.playTrack(0);
    this.urlTrack = trackFromUrl(url);
    const u = this.fetchable(url);
    if (!u) return;
    const token = this.mediaToken;
    this.media = { token, prompt: false };
    this.state.status = 'loading';
    void this.fetchMedia(u, false).then((ok) => {
      if (this.media?.token !== token) return;
      this.device(() => {
        if (!ok) {
          this.media = undefined;
          this.setStatus('stop');
          return;
        }
        this.state.status = 'play';
        this.position = 0;
        this.scheduleEnd(token);
      });
    });
  }

  /**
   * playPromptUrl, accepted: the firmware lowers the music and brings it back only over network, USB, radio, preset and
   * playlist playback (modes 10-20: pywiim NATIVE_NOTIFICATION_PROMPT_SOURCES); over Spotify, AirPlay, Bluetooth, the
   * inputs or an idle player it accepts and stays silent (mjcumming/wiim #174: "there is a Pause, but not text"; pywiim ADR 012).
   */
  prompt(url: string): void {
    if (this.state.status !== 'play' || this.state.mode < 10 || this.state.mode > 20) return;
    this.settings.promptsPlayed.push(url);
    this.startPrompt(url);
  }

  /** playPromptUrl over a source that has it: the music lowered while the prompt is fetched and plays, then brought back. */
  private startPrompt(url: string): void {
    if (this.media?.prompt) this.cancelMedia();
    const token = ++this.mediaToken;
    const duckedFrom = this.state.volume;
    this.media = { token, prompt: true, duckedFrom };
    this.state.volume = Math.floor(duckedFrom / 3);
    const u = this.fetchable(url);
    const fetched = u ? this.fetchMedia(u, true) : Promise.resolve(true);
    void fetched.then((ok) => {
      if (this.media?.token !== token) return;
      if (!ok) this.device(() => this.endMedia());
      else this.scheduleEnd(token);
    });
  }

  private scheduleEnd(token: number): void {
    if (this.mediaLengthMs <= 0 || this.media?.token !== token) return;
    this.media.timer = setTimeout(() => {
      if (this.media?.token === token) this.device(() => this.endMedia());
    }, this.mediaLengthMs);
  }

  /** The URL or prompt playing now ends (control API): a URL stops the player; a prompt gives the music its volume back. */
  endMedia(): void {
    const m = this.media;
    if (!m) return;
    if (m.timer) clearTimeout(m.timer);
    this.media = undefined;
    if (m.prompt) {
      if (m.duckedFrom !== undefined) this.state.volume = m.duckedFrom;
      return;
    }
    this.setStatus('stop');
    this.position = 0;
  }

  /** Whether a URL or prompt is playing now (fetched and not yet ended). */
  get mediaPlaying(): boolean {
    return this.media !== undefined;
  }

  // ------------------------------------------------------------ HTTP

  protected handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const raw = req.url ?? '';
    const q = raw.indexOf('?');
    const query = q >= 0 ? raw.slice(q + 1) : '';
    // like the device's CGI: parameters end at '&'; the command is percent-decoded
    const param = query.split('&').find((p) => p.startsWith('command='));
    let command = '';
    try {
      command = param ? decodeURIComponent(param.slice('command='.length)) : '';
    } catch {
      command = param ? param.slice('command='.length) : '';
    }
    const path = q >= 0 ? raw.slice(0, q) : raw;
    if (path !== '/httpapi.asp') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    this.requests.push(command);
    if (this.faults.hang) return;
    this.answer(req, res, () => {
      const reply = this.execute(command);
      this.upnp.changed();
      return reply;
    });
  }

  protected override send(res: http.ServerResponse, reply: Reply): void {
    if (this.faults.slowDripMs > 0) this.drip(res, reply, this.faults.slowDripMs);
    else this.write(res, reply);
  }

  /** Headers at once, then the body one byte per `everyMs` (a slow or stalled link). */
  private drip(res: http.ServerResponse, reply: Reply, everyMs: number): void {
    if (res.destroyed) return;
    const body = Buffer.from(reply.body);
    res.writeHead(reply.status ?? 200, { 'Content-Type': reply.type ?? 'text/html', 'Content-Length': body.length });
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    res.once('close', () => clearTimeout(timer));
    const next = () => {
      if (res.destroyed || !this.listening) return;
      if (i >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(i, i + 1));
      i++;
      timer = setTimeout(next, everyMs);
    };
    next();
  }

  protected override write(res: http.ServerResponse, reply: Reply): void {
    super.write(res, reply);
    const idle = this.faults.closeIdleAfterMs;
    const socket = res.socket;
    if (idle <= 0 || !socket) return;
    res.on('finish', () => {
      const timer = setTimeout(() => socket.destroy(), idle);
      socket.once('data', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
  }

  // ------------------------------------------------------------ commands

  private json(value: unknown): Reply {
    return { body: JSON.stringify(value), type: 'application/json' };
  }

  private ok(): Reply {
    return { body: 'OK' };
  }

  private okJson(): Reply {
    return this.json({ status: 'OK' });
  }

  private failed(): Reply {
    return { body: 'Failed' };
  }

  private failedJson(): Reply {
    return this.json({ status: 'Failed' });
  }

  /** Runs one command against the state; returns the device's reply. */
  execute(command: string, plain = false): Reply {
    if (!plain) {
      const answer = profileExecute(this, command);
      if (answer) return answer;
    }
    const s = this.state;
    const parts = command.split(':');
    const head = parts[0];
    switch (head) {
      case 'getStatusEx':
        return this.json(this.withProfileStatusEx(this.statusEx()));
      case 'getPlayerStatus':
        return this.json(this.withProfilePlayer(this.playerStatus()));
      case 'getMetaInfo': {
        if (s.status === 'stop' || s.mode === 0) return this.failed();
        const t = this.track;
        // real firmware puts stray spaces in some keys
        return this.json({
          metaData: {
            album: t.album,
            title: t.title,
            subtitle: '',
            artist: t.artist,
            albumArtURI: t.artwork,
            ' sampleRate': '44100',
            bitDepth: '16',
            bitRate: '320',
            trackId: `t${s.trackIndex}`,
          },
        });
      }
      case 'getPresetInfo':
        return this.json({ preset_num: s.presets.length, preset_list: s.presets });
      case 'wlanGetConnectState':
        return { body: s.wifiState };
      case 'EQOn':
        s.eqOn = true;
        return this.okJson();
      case 'EQOff':
        s.eqOn = false;
        return this.okJson();
      case 'EQGetStat':
        return this.json({ EQStat: s.eqOn ? 'On' : 'Off' });
      case 'EQGetList':
        return this.json(this.profile.eqListWrapped ? { EQList: s.eqList } : s.eqList);
      case 'EQLoad': {
        const name = command.slice('EQLoad:'.length);
        if (!s.eqList.includes(name)) return this.failedJson();
        s.eqPreset = name;
        s.eqOn = true;
        return this.okJson();
      }
      case 'reboot':
        s.reboots++;
        return { body: '' };
      case 'setShutdown': {
        const sec = Number(parts[1]);
        if (parts.length !== 2 || !Number.isInteger(sec) || sec < -1) return this.failedJson();
        s.shutdownAt = sec === -1 ? null : Date.now() + sec * 1000;
        return this.okJson();
      }
      case 'getShutdown':
        return { body: String(s.shutdownAt === null ? 0 : Math.max(0, Math.round((s.shutdownAt - Date.now()) / 1000))) };
      case 'timeSync':
        if (!/^\d{14}$/.test(parts[1] ?? '')) return this.failed();
        s.timeSync = parts[1];
        return this.ok();
      case 'setAlarmClock':
        return this.setAlarm(command);
      case 'getAlarmClock': {
        const a = s.alarms[Number(parts[1])];
        if (!a || parts.length !== 2) return this.failed();
        const time = a.time ? `${a.time.slice(0, 2)}:${a.time.slice(2, 4)}:${a.time.slice(4, 6)}` : '';
        const out: Record<string, string> = { enable: a.enable ? '1' : '0', trigger: String(a.trigger), operation: String(a.operation), time, path: a.url };
        if (a.trigger === 1) out.date = `${a.day.slice(0, 4)}:${a.day.slice(4, 6)}:${a.day.slice(6, 8)}`;
        if (a.trigger === 3 || a.trigger === 4) out.week_day = String(parseInt(a.day, a.trigger === 4 ? 16 : 10));
        if (a.trigger === 5) out.day = a.day;
        return this.json(out);
      }
      case 'alarmStop':
        return this.ok();
      case 'setPlayerCmd':
        return this.playerCmd(parts[1] ?? '', command.slice(`setPlayerCmd:${parts[1] ?? ''}:`.length), parts);
      case 'MCUKeyShortClick': {
        const n = Number(parts[1]);
        const p = s.presets.find((x) => x.number === n);
        if (!p || n > s.presetKeys) return this.failed();
        this.cancelMedia();
        s.url = p.url;
        s.mode = 10;
        this.playTrack(0);
        return this.ok();
      }
      case 'ConnectMasterAp': {
        const m = /^ConnectMasterAp:JoinGroupMaster:eth([^:]+):wifi0\.0\.0\.0$/.exec(command);
        if (!m) return this.failed();
        s.leader = m[1];
        s.mode = 99;
        return this.ok();
      }
      case 'multiroom': {
        const sub = parts[1];
        if (sub === 'getSlaveList') return this.json(this.slaveList());
        if (sub === 'Ungroup') {
          s.followers = [];
          if (s.leader) {
            s.leader = null;
            s.mode = 10;
          }
          return this.ok();
        }
        if (sub === 'SlaveKickout') {
          const ip = parts[2];
          const before = s.followers.length;
          s.followers = s.followers.filter((f) => f.ip !== ip);
          return before === s.followers.length ? this.failed() : this.ok();
        }
        return { body: 'unknown command' };
      }
      default:
        return { body: 'unknown command' };
    }
  }

  private statusEx(): Record<string, unknown> {
    const s = this.state;
    return {
      language: 'en_us',
      ssid: s.name,
      hideSSID: '0',
      firmware: s.firmware,
      build: 'release',
      project: s.model,
      priv_prj: s.model,
      Release: '20220805',
      group: s.leader ? '1' : '0',
      // a follower names its leader (pywiim reads master_ip)
      ...(s.leader ? { master_ip: s.leader, master_uuid: '' } : {}),
      wmrm_version: '4.2',
      internet: '1',
      uuid: s.uuid,
      MAC: s.mac,
      BT_MAC: '08:E9:F6:8F:8F:A3',
      date: '2022:08:09',
      time: '07:13:16',
      netstat: '2',
      essid: hex(s.ssid),
      apcli0: s.ip,
      eth0: '0.0.0.0',
      hardware: 'ALLWINNER-R328',
      ra0: '10.10.10.254',
      preset_key: String(s.presetKeys),
      RSSI: String(s.rssi),
      BSSID: '8c:25:05:1c:41:40',
      security: 'https/2.0',
      DeviceName: s.name,
      GroupName: s.name,
    };
  }

  /** `mode`, and `vendor` where the profile reports USB playback as network playback. */
  private modeFields(): Record<string, string> {
    const usb = this.state.mode === SWITCH_MODES.udisk && this.profile.usbAsNetwork;
    return usb ? { mode: String(SWITCH_MODES.wifi), vendor: 'UDiskLocal' } : { mode: String(this.state.mode) };
  }

  private playerStatus(): Record<string, string> {
    const s = this.state;
    const t = this.track;
    const playing = s.status !== 'stop';
    const field = (v: string) => (this.faults.hexMeta ? hex(v) : v);
    return {
      type: s.leader ? '1' : '0',
      ch: '0',
      ...this.modeFields(),
      loop: String(s.loop),
      eq: s.eqOn ? String(Math.max(0, s.eqList.indexOf(s.eqPreset))) : '0',
      status: s.status,
      curpos: String(playing ? Math.floor(this.position) : 0),
      offset_pts: String(playing ? Math.floor(this.position) : 0),
      totlen: String(playing ? t.durationMs : 0),
      Title: field(playing ? t.title : ''),
      Artist: field(playing ? t.artist : ''),
      Album: field(playing ? t.album : ''),
      alarmflag: '0',
      plicount: String(playing ? s.tracks.length : 0),
      plicurr: String(playing ? s.trackIndex + 1 : 0),
      vol: String(s.volume),
      mute: s.muted ? '1' : '0',
    };
  }

  private playerCmd(sub: string, arg: string, parts: string[]): Reply {
    const s = this.state;
    switch (sub) {
      case 'play':
        if (!arg) return this.failed();
        s.url = arg;
        s.mode = this.profile.apiMode ? 20 : 10;
        s.playlist = null;
        // a follower told to play a URL leaves its group (mjcumming/wiim TTS guide, "Group behavior")
        s.leader = null;
        // a bare URL carries no tags: the device shows its file name and no artist or album
        this.startUrl(arg);
        return this.ok();
      case 'playlist':
      case 'hex_playlist': {
        this.cancelMedia();
        const index = Number(parts[parts.length - 1]);
        const body = parts.slice(2, -1).join(':');
        const u = sub === 'hex_playlist' ? Buffer.from(body, 'hex').toString('utf8') : body;
        if (!u || !Number.isInteger(index)) return this.failed();
        s.playlist = { url: u, index };
        s.url = u;
        s.mode = 10;
        this.playTrack(index);
        return this.ok();
      }
      case 'pause':
        if (s.status === 'play') this.setStatus('pause');
        return this.ok();
      case 'resume':
        if (s.status === 'pause' || (s.status === 'stop' && s.url)) this.setStatus('play');
        return this.ok();
      case 'onepause':
        this.setStatus(s.status === 'play' ? 'pause' : 'play');
        return this.ok();
      case 'stop':
        this.cancelMedia();
        this.setStatus('stop');
        this.position = 0;
        return this.ok();
      case 'next':
        this.playTrack((s.trackIndex + 1) % Math.max(1, s.tracks.length));
        return this.ok();
      case 'prev':
        this.playTrack(s.trackIndex > 0 ? s.trackIndex - 1 : 0);
        return this.ok();
      case 'seek': {
        const sec = Number(arg);
        if (!Number.isFinite(sec) || sec < 0) return this.failed();
        this.position = sec * 1000;
        return this.ok();
      }
      case 'vol': {
        const v = Number(arg);
        if (!Number.isInteger(v)) return this.failed();
        // like the firmware: clamps whatever arrives (the node must never send it)
        s.volume = Math.max(0, Math.min(100, v));
        return this.ok();
      }
      case 'mute':
        if (arg !== '0' && arg !== '1') return this.failed();
        s.muted = arg === '1';
        return this.ok();
      case 'loopmode': {
        // stored as sent: the getter's loop numbers (docs/architecture.md, loop numbers); the setter table in the vendor document is wrong.
        // WiiM's scheme ends at 4, Arylic's at 5 (pywiim api/loop_mode.py)
        const n = Number(arg);
        if (!Number.isInteger(n) || n < 0 || n > (this.profile.loopScheme === 'arylic' ? 5 : 4)) return this.failed();
        s.loop = n;
        return this.ok();
      }
      case 'switchmode': {
        const mode = SWITCH_MODES[arg];
        if (mode === undefined) return this.failed();
        this.cancelMedia();
        s.mode = mode;
        // an input plays what arrives at it: switching to one plays
        if (mode >= 40) this.setStatus('play');
        return this.ok();
      }
      default:
        return { body: 'unknown command' };
    }
  }

  private setAlarm(command: string): Reply {
    const parts = command.split(':');
    const n = Number(parts[1]);
    const a = this.state.alarms[n];
    if (!a) return this.failed();
    const trigger = Number(parts[2]);
    if (trigger === 0) {
      this.state.alarms[n] = { enable: false, trigger: 0, operation: 0, time: '', day: '', url: '' };
      return this.ok();
    }
    // setAlarmClock:n:trig:op:time[:day][:url] (vendor document 2.6.2): triggers 0 and 2 take no day, the others must have one
    const [, , , op, time, ...rest] = parts;
    if (!/^\d{6}$/.test(time ?? '') || !Number.isInteger(trigger) || trigger < 1 || trigger > 5) return this.failed();
    const day = trigger === 2 ? '' : (rest.shift() ?? '');
    if (trigger !== 2 && day === '') return this.failed();
    this.state.alarms[n] = { enable: true, trigger, operation: Number(op), time, day, url: rest.join(':') };
    return this.ok();
  }

  // ------------------------------------------------------------ profiles (wiim-profiles.ts)

  /** getSlaveList as the profile writes it: `slaves` a count or the list; keys lower case or capitalised. */
  private slaveList(): Record<string, unknown> {
    const p = this.profile;
    const list = this.state.followers.map((f) => {
      const e = { name: f.name, ip: f.ip, uuid: f.uuid, volume: String(f.volume), mute: f.mute ? '1' : '0', version: '4.2' };
      return p.capitalFollowers ? { Name: e.name, Ip: e.ip, UUID: e.uuid, Volume: e.volume, Mute: e.mute, Version: e.version } : e;
    });
    return p.slavesArray ? { slaves: list } : { slaves: list.length, slave_list: list };
  }

  private withProfileStatusEx(o: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = { ...o, plm_support: this.profile.plmSupport };
    if (this.profile.wired) Object.assign(out, { essid: '', RSSI: '0', netstat: '0', apcli0: '0.0.0.0', eth0: this.state.ip });
    return out;
  }

  private withProfilePlayer(o: Record<string, string>): Record<string, string> {
    const p = this.profile;
    const out = { ...o };
    if (p.idleNone && this.state.status === 'stop' && !this.state.url) Object.assign(out, { status: 'none', mode: '-1' });
    if (p.microseconds) for (const k of ['curpos', 'totlen', 'offset_pts'] as const) out[k] = String(Number(out[k]) * 1000);
    if (p.plainTitles && this.faults.hexMeta) {
      const t = this.track;
      const playing = this.state.status !== 'stop';
      Object.assign(out, { Title: playing ? t.title : '', Artist: playing ? t.artist : '', Album: playing ? t.album : '' });
    }
    return out;
  }
}
