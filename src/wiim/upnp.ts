/**
 * UPnP eventing of WiiM / LinkPlay devices, protocol only: the device
 * description, GENA SUBSCRIBE / renew / UNSUBSCRIBE, and the reading of
 * NOTIFY bodies (LastChange of AVTransport, RenderingControl and PlayQueue,
 * DIDL-Lite metadata) into the normalised wiim-status fields.
 *
 * Sources: UPnP Device Architecture 1.1, section 4 (eventing); WiiM's `wiim`
 * library (src/wiim/wiim_device.py, handler.py, consts.py) and pywiim
 * (upnp/eventer.py) for what the firmware sends. Notes in docs/architecture.md.
 */

import http from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import { DeviceError } from '../shared/errors';
import { loopToMode } from './vocabulary';
import { capText, outputOfSoundCardMode, positionFits, readMute, readVolume } from './parse';
import type { WiimPlayerStatus, WiimStatePatch } from './state';

/** The description's usual port; plain HTTP, not the httpapi port (see the module note). */
export const UPNP_PORT = 49152;
/** What we ask for; the device grants what it likes (UDA 1.1, 4.1.2). */
export const REQUESTED_TIMEOUT_S = 1800;
/** A NOTIFY or description body larger than this is refused unread. */
export const MAX_BODY_BYTES = 128 * 1024;
/** Deeper XML is refused by the parser (DIDL-Lite needs about 5 levels). */
const MAX_DEPTH = 16;

export const SERVICE_TYPES = {
  avTransport: 'urn:schemas-upnp-org:service:AVTransport:1',
  renderingControl: 'urn:schemas-upnp-org:service:RenderingControl:1',
  playQueue: 'urn:schemas-wiimu-com:service:PlayQueue:1',
} as const;
export type ServiceName = keyof typeof SERVICE_TYPES;

export interface UpnpService {
  name: ServiceName;
  serviceType: string;
  /** absolute URLs, resolved against the description's address */
  eventSubURL: string;
  controlURL: string;
}

// ------------------------------------------------------------------ XML

/**
 * No entity of any kind is expanded by the parser (no DTD, no HTML
 * entities); the five predefined XML entities and character references are
 * decoded by decodeXml, which cannot grow a text beyond its own length.
 */
const parser = new XMLParser({
  processEntities: false,
  htmlEntities: false,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  trimValues: true,
  maxNestedTags: MAX_DEPTH,
});

type XmlNode = Record<string, unknown>;

/** Parses one XML document, refusing a DTD (UPnP bodies never carry one), an oversized body or a malformed one. */
export function parseXml(text: string): XmlNode {
  if (text.length > MAX_BODY_BYTES) throw new DeviceError('protocol', 'UPnP body too large');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new DeviceError('protocol', 'UPnP body with a DTD refused');
  try {
    const out: unknown = parser.parse(text, true);
    if (out && typeof out === 'object') return out as XmlNode;
  } catch (err) {
    throw new DeviceError('protocol', `malformed UPnP XML: ${(err as Error).message}`);
  }
  throw new DeviceError('protocol', 'malformed UPnP XML');
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The predefined entities and character references; anything else stays as written. */
export function decodeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|lt|gt|amp|quot|apos);/gi, (m, e: string) => {
    if (e[0] !== '#') return PREDEFINED[e.toLowerCase()] ?? m;
    const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

/** A child element by local name (namespace prefixes vary between firmware). */
function child(node: unknown, local: string): unknown {
  if (!node || typeof node !== 'object') return undefined;
  for (const [k, v] of Object.entries(node as XmlNode)) {
    if (k === local || k.endsWith(`:${local}`)) return v;
  }
  return undefined;
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** An element's text, decoded (an element with attributes keeps its text under #text). */
function text(node: unknown): string | undefined {
  if (typeof node === 'string') return decodeXml(node);
  if (Array.isArray(node)) return text(node[0]);
  if (node && typeof node === 'object') {
    const t = (node as XmlNode)['#text'];
    return typeof t === 'string' ? decodeXml(t) : '';
  }
  return undefined;
}

function attr(node: unknown, name: string): string | undefined {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const v = (node as XmlNode)[`@_${name}`];
  return typeof v === 'string' ? decodeXml(v) : undefined;
}

// ------------------------------------------------------------------ description

/** Reads serviceList/service from a device description (UDA 1.1, 2.3); paths resolved against `base`. */
export function parseDescription(xml: string, base: string): UpnpService[] {
  const root = child(parseXml(xml), 'root');
  const found: UpnpService[] = [];
  const visit = (device: unknown, depth: number) => {
    for (const d of list(device)) {
      for (const s of list(child(child(d, 'serviceList'), 'service'))) {
        const serviceType = text(child(s, 'serviceType'))?.trim() ?? '';
        const name = (Object.keys(SERVICE_TYPES) as ServiceName[]).find((n) => SERVICE_TYPES[n] === serviceType);
        const ev = text(child(s, 'eventSubURL'))?.trim();
        if (!name || !ev || found.some((f) => f.name === name)) continue;
        try {
          found.push({ name, serviceType, eventSubURL: new URL(ev, base).href, controlURL: new URL(text(child(s, 'controlURL'))?.trim() ?? '', base).href });
        } catch {
          // a path no URL can be made of: the service is left out
        }
      }
      // embedded devices (UDA 1.1, 2.3: deviceList)
      if (depth < 3) visit(child(child(d, 'deviceList'), 'device'), depth + 1);
    }
  };
  visit(child(root, 'device'), 0);
  return found;
}

// ------------------------------------------------------------------ HTTP

export interface UpnpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** the address our side of the connection used: the callback host that reaches the device */
  localAddress: string | undefined;
  /** the device's address as the connection saw it (NOTIFYs must come from it) */
  remoteAddress: string | undefined;
}

/** One plain-HTTP request with a timeout and a body cap (the device's UPnP server has no TLS). */
export function upnpRequest(method: string, url: string, headers: Record<string, string>, timeoutMs: number): Promise<UpnpReply> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new DeviceError('argument', `not a URL: ${url}`));
      return;
    }
    const req = http.request(
      { method, host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port || 80, path: `${u.pathname}${u.search}`, headers, agent: false, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const localAddress = res.socket?.localAddress;
        const remoteAddress = res.socket?.remoteAddress;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy(new DeviceError('protocol', `${method} ${url}: reply too large`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), localAddress, remoteAddress }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new DeviceError('timeout', `${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof DeviceError ? err : new DeviceError('network', `${method} ${url}: ${err.message}`)));
    req.end();
  });
}

export interface Description {
  services: UpnpService[];
  /** our address on the connection that reached the device */
  localAddress: string | undefined;
  /** the device's address on that connection */
  remoteAddress: string | undefined;
}

/** Fetches and reads the device description. */
export async function fetchDescription(url: string, timeoutMs: number): Promise<Description> {
  const reply = await upnpRequest('GET', url, {}, timeoutMs);
  if (reply.status !== 200) throw new DeviceError('protocol', `GET ${url}: HTTP ${reply.status}`);
  return { services: parseDescription(reply.body, url), localAddress: reply.localAddress, remoteAddress: reply.remoteAddress };
}

export interface Subscription {
  sid: string;
  /** seconds granted */
  timeoutS: number;
}

/** `Second-1800` → 1800; `infinite` (deprecated in UDA 1.1) is taken as a day. */
export function parseTimeout(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^second-infinite$/i.test(v.trim())) return 86400;
  const m = /^second-(\d+)$/i.exec(v.trim());
  return m ? Number(m[1]) : undefined;
}

/** The error a refused SUBSCRIBE becomes; `status` 412 means "subscribe afresh". */
export class SubscribeError extends DeviceError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('protocol', message);
  }
}

function subscription(reply: UpnpReply, what: string): Subscription {
  if (reply.status !== 200) throw new SubscribeError(reply.status, `${what}: HTTP ${reply.status}`);
  const sid = reply.headers.sid;
  const timeoutS = parseTimeout(reply.headers.timeout);
  if (typeof sid !== 'string' || sid === '') throw new SubscribeError(0, `${what}: no SID in the reply`);
  return { sid, timeoutS: timeoutS ?? REQUESTED_TIMEOUT_S };
}

/** SUBSCRIBE with CALLBACK and NT (UDA 1.1, 4.1.2). */
export async function subscribe(eventSubURL: string, callbackUrl: string, timeoutMs: number): Promise<Subscription> {
  const reply = await upnpRequest(
    'SUBSCRIBE',
    eventSubURL,
    { CALLBACK: `<${callbackUrl}>`, NT: 'upnp:event', TIMEOUT: `Second-${REQUESTED_TIMEOUT_S}` },
    timeoutMs,
  );
  return subscription(reply, `SUBSCRIBE ${eventSubURL}`);
}

/** Renewal: SID and TIMEOUT only (UDA 1.1, 4.1.3); 412 when the device forgot the SID. */
export async function renew(eventSubURL: string, sid: string, timeoutMs: number): Promise<Subscription> {
  const reply = await upnpRequest('SUBSCRIBE', eventSubURL, { SID: sid, TIMEOUT: `Second-${REQUESTED_TIMEOUT_S}` }, timeoutMs);
  return subscription(reply, `renewal ${eventSubURL}`);
}

/** UNSUBSCRIBE (UDA 1.1, 4.1.4); a failure is of no consequence: the subscription expires anyway. */
export async function unsubscribe(eventSubURL: string, sid: string, timeoutMs: number): Promise<void> {
  await upnpRequest('UNSUBSCRIBE', eventSubURL, { SID: sid }, timeoutMs);
}

/**
 * When to renew: a minute before expiry, but not more often than every 30 s
 * (as WiiM's library does); a grant shorter than that is renewed at half its
 * time, or the subscription would lapse first.
 */
export function renewAfterS(grantedS: number): number {
  return grantedS >= 90 ? Math.max(30, grantedS - 60) : Math.max(1, Math.floor(grantedS / 2));
}

// ------------------------------------------------------------------ events

const TRANSPORT: Record<string, WiimPlayerStatus['state']> = {
  PLAYING: 'playing',
  PAUSED_PLAYBACK: 'paused',
  STOPPED: 'stopped',
  NO_MEDIA_PRESENT: 'stopped',
  TRANSITIONING: 'loading',
};

/** PlaybackStorageMedium → our source names; network media defer to TrackSource. */
const MEDIUM: Record<string, string> = {
  BLUETOOTH: 'bluetooth',
  'LINE-IN': 'line-in',
  'LINE-IN2': 'line-in2',
  OPTICAL: 'optical',
  COAXIAL: 'coaxial',
  HDMI: 'hdmi',
  USB: 'usb',
  UDISK: 'usb',
  AIRPLAY: 'airplay',
  DLNA: 'dlna',
};

const TRACK_SOURCES = new Set(['spotify', 'tidal', 'airplay', 'dlna', 'qplay', 'qobuz', 'deezer', 'amazon', 'tunein', 'iheartradio', 'pandora']);

/** `H:MM:SS` (optionally with a fraction) → seconds. */
export function hmsToSeconds(value: string | undefined): number | undefined {
  const m = value ? /^(\d+):(\d{1,2}):(\d{1,2})(?:\.\d+)?$/.exec(value.trim()) : null;
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined;
}

function numberOrNull(v: string | undefined): number | null | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** A text field as the poll path has it: blank or un_known → null, the rest capped. */
const meaningful = (v: string | undefined): string | null => (v === undefined || v.trim() === '' || v.trim() === 'un_known' ? null : capText(v.trim()));

/**
 * Track metadata: DIDL-Lite (dc:title, upnp:artist, upnp:album,
 * upnp:albumArtURI, res@duration, LinkPlay's song:bitrate, song:format_s,
 * song:rate_hz), or JSON on some firmware.
 */
export function parseTrackMeta(value: string): WiimStatePatch {
  const v = value.trim();
  if (v === '' || v === 'NOT_IMPLEMENTED') return {};
  if (v.startsWith('{')) return trackFromJson(v);
  const item = child(child(parseXml(v), 'DIDL-Lite'), 'item');
  const it = list(item)[0];
  if (!it) return {};
  const res = list(child(it, 'res'))[0];
  const out: WiimStatePatch = {
    title: meaningful(text(child(it, 'title'))),
    artist: meaningful(text(child(it, 'artist')) ?? text(child(it, 'creator'))),
    album: meaningful(text(child(it, 'album'))),
  };
  const art = meaningful(text(child(it, 'albumArtURI')));
  out.artwork = art && /^[a-z]+:\/\//i.test(art) ? art : null;
  const duration = hmsToSeconds(attr(res, 'duration'));
  if (duration !== undefined) out.duration = duration > 0 ? duration : null;
  const bitRate = numberOrNull(text(child(it, 'bitrate')));
  const bitDepth = numberOrNull(text(child(it, 'format_s')));
  const sampleRate = numberOrNull(text(child(it, 'rate_hz')));
  if (bitRate !== undefined) out.bitRate = bitRate;
  if (bitDepth !== undefined) out.bitDepth = bitDepth;
  if (sampleRate !== undefined) out.sampleRate = sampleRate;
  return out;
}

function trackFromJson(v: string): WiimStatePatch {
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch {
    throw new DeviceError('protocol', 'malformed track metadata (JSON)');
  }
  if (!o || typeof o !== 'object') return {};
  const rec = o as Record<string, unknown>;
  const inner = (rec.metaData ?? rec.metadata ?? rec) as Record<string, unknown>;
  const m: Record<string, string> = {};
  for (const [k, val] of Object.entries(inner)) if (typeof val === 'string' || typeof val === 'number') m[k.trim()] = String(val);
  const out: WiimStatePatch = { title: meaningful(m.title), artist: meaningful(m.artist), album: meaningful(m.album) };
  const art = meaningful(m.albumArtURI ?? m.albumArtUri);
  out.artwork = art && /^[a-z]+:\/\//i.test(art) ? art : null;
  for (const [key, field] of [
    ['sampleRate', 'sampleRate'],
    ['bitDepth', 'bitDepth'],
    ['bitRate', 'bitRate'],
  ] as const) {
    const n = numberOrNull(m[key]);
    if (n !== undefined) out[field] = n;
  }
  return out;
}

/** `{"category":"hardware","body":{"output_mode":"AUDIO_OUTPUT_AUX_MODE"}}` → `line-out`; undefined for any other commonevent. */
function outputOfCommonEvent(event: unknown): string | undefined {
  if (!event || typeof event !== 'object') return undefined;
  const { category, body } = event as { category?: unknown; body?: unknown };
  const mode = body && typeof body === 'object' ? (body as { output_mode?: unknown }).output_mode : undefined;
  return category === 'hardware' && typeof mode === 'string' && mode.trim() !== '' ? outputOfSoundCardMode(mode.trim().toUpperCase()) : undefined;
}

export interface ParsedEvent {
  state: WiimStatePatch;
  /** WiiM's `commonevent` JSON values (an output change is also in `state.output`) and `Slave` changes (group members), as sent */
  extras: { commonevent?: unknown[]; slaves?: Array<{ action: string; value: string }> };
  /** values left out because the poll parser's checks refuse them (`Volume "1e308"`), for the debug log */
  dropped: string[];
}

/**
 * One NOTIFY body (`e:propertyset`) of `service` → the fields it changed.
 * Throws DeviceError('protocol') for a body that is not one.
 */
export function parseNotify(service: ServiceName, body: string): ParsedEvent {
  const set = child(parseXml(body), 'propertyset');
  if (set === undefined) throw new DeviceError('protocol', 'NOTIFY without a propertyset');
  const state: WiimStatePatch = {};
  const extras: ParsedEvent['extras'] = {};
  const dropped: string[] = [];
  for (const p of list(child(set, 'property'))) {
    const lc = text(child(p, 'LastChange'));
    if (lc === undefined || lc.trim() === '') continue;
    const event = child(parseXml(lc), 'Event');
    for (const instance of list(child(event, 'InstanceID'))) readInstance(service, instance, state, extras, dropped);
  }
  return { state, extras, dropped };
}

/** How a refused value is named in the debug log: its name and the start of what came. */
const refused = (name: string, value: string) => `${name} "${value.length > 20 ? `${value.slice(0, 20)}…` : value}"`;

/** The value of `<Name val="..."/>`; the first of a list (Volume comes per channel). */
function val(instance: unknown, name: string, channel?: string): string | undefined {
  const nodes = list(child(instance, name));
  const pick = channel ? (nodes.find((n) => (attr(n, 'channel') ?? channel) === channel) ?? nodes[0]) : nodes[0];
  return attr(pick, 'val');
}

function readInstance(service: ServiceName, instance: unknown, state: WiimStatePatch, extras: ParsedEvent['extras'], dropped: string[]): void {
  if (service === 'avTransport') {
    const ts = val(instance, 'TransportState');
    if (ts !== undefined && TRANSPORT[ts]) state.state = TRANSPORT[ts];
    const duration = hmsToSeconds(val(instance, 'CurrentTrackDuration'));
    if (duration !== undefined) state.duration = duration > 0 ? duration : null;
    const rawPosition = val(instance, 'RelativeTimePosition');
    const position = hmsToSeconds(rawPosition);
    // checked against the event's own duration here; against the one the session holds when merged
    if (position !== undefined && positionFits(position, state.duration)) state.position = position;
    else if (position !== undefined) dropped.push(refused('RelativeTimePosition', rawPosition ?? ''));
    const meta = val(instance, 'CurrentTrackMetaData') ?? val(instance, 'AVTransportURIMetaData');
    if (meta !== undefined) {
      // a broken metadata document spoils the metadata only, not the event
      try {
        Object.assign(state, parseTrackMeta(meta));
      } catch {
        // left out
      }
    }
    const medium = val(instance, 'PlaybackStorageMedium')?.toUpperCase();
    const trackSource = val(instance, 'TrackSource')?.toLowerCase().trim();
    if (medium && MEDIUM[medium]) state.source = MEDIUM[medium];
    else if (medium !== undefined || trackSource !== undefined) {
      state.source = trackSource && TRACK_SOURCES.has(trackSource) ? trackSource : 'wifi';
    }
  } else if (service === 'renderingControl') {
    const rawVolume = val(instance, 'Volume', 'Master');
    const volume = readVolume(rawVolume);
    if (volume !== undefined) state.volume = volume;
    else if (rawVolume !== undefined) dropped.push(refused('Volume', rawVolume));
    const rawMute = val(instance, 'Mute', 'Master');
    const muted = readMute(rawMute);
    if (muted !== undefined) state.muted = muted;
    else if (rawMute !== undefined) dropped.push(refused('Mute', rawMute));
    const common = list(child(instance, 'commonevent'))
      .map((n) => attr(n, 'val'))
      .filter((v): v is string => v !== undefined);
    if (common.length > 0) {
      extras.commonevent = common.map((c) => {
        try {
          return JSON.parse(c) as unknown;
        } catch {
          return c;
        }
      });
      for (const c of extras.commonevent) {
        const output = outputOfCommonEvent(c);
        if (output !== undefined) state.output = output;
      }
    }
    const slaves = list(child(instance, 'Slave')).map((n) => ({ action: attr(n, 'action') ?? '', value: attr(n, 'val') ?? '' }));
    if (slaves.length > 0) extras.slaves = slaves;
  } else {
    // the firmware spells it LoopMpde; read both
    const loop = numberOrNull(val(instance, 'LoopMode') ?? val(instance, 'LoopMpde'));
    const mode = typeof loop === 'number' ? loopToMode(loop) : undefined;
    if (mode) {
      state.repeat = mode.repeat;
      state.shuffle = mode.shuffle;
    }
  }
}
