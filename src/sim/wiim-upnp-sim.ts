/**
 * The UPnP side of a simulated WiiM: a description on a plain-HTTP port of
 * its own (with paths of its own, so that a client that hard-codes the
 * usual ones fails), GENA SUBSCRIBE / renew / UNSUBSCRIBE, and NOTIFY with
 * LastChange on every change of the simulated state. Written from UDA 1.1
 * section 4 and what WiiM's `wiim` library and pywiim read; it imports
 * nothing from src/wiim.
 */

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { urlHost } from './sim-server';

export interface UpnpFaults {
  /** the device has no UPnP: every request gets 404 */
  noUpnp: boolean;
  /** subscriptions are granted, but no NOTIFY is sent */
  eventsStop: boolean;
  /** a renewal is answered 412 (the device "forgot" after a reboot) */
  renew412: boolean;
  /** the TIMEOUT granted, in seconds (0 = what was asked for) */
  grantedTimeoutS: number;
  /** PlayQueue's LoopMode spelled as some firmware does: LoopMpde */
  loopMpde: boolean;
  /** track metadata as JSON instead of DIDL-Lite */
  didlJson: boolean;
}

export function defaultUpnpFaults(): UpnpFaults {
  return { noUpnp: false, eventsStop: false, renew412: false, grantedTimeoutS: 0, loopMpde: false, didlJson: false };
}

/** What the UPnP side reads from the simulated device. */
export interface UpnpModel {
  name: string;
  uuid: string;
  status: 'play' | 'pause' | 'stop' | 'loading';
  mode: number;
  volume: number;
  muted: boolean;
  loop: number;
  trackIndex: number;
  /** the track shown now */
  track: { title: string; artist: string; album: string; artwork: string; durationMs: number };
  /** ms */
  position: number;
  /** the followers' addresses, when this device leads a group */
  followers: string[];
  /** the output's mode name as the firmware sends it in a commonevent (AUDIO_OUTPUT_..._MODE); empty when the model has no output setting */
  output: string;
}

type Service = 'avt' | 'rc' | 'pq';

const PATHS: Record<Service, { type: string; id: string; scpd: string; control: string; event: string }> = {
  avt: {
    type: 'urn:schemas-upnp-org:service:AVTransport:1',
    id: 'urn:upnp-org:serviceId:AVTransport',
    scpd: '/sim/avt/scpd.xml',
    control: '/sim/avt/ctl',
    event: '/sim/avt/evt',
  },
  rc: {
    type: 'urn:schemas-upnp-org:service:RenderingControl:1',
    id: 'urn:upnp-org:serviceId:RenderingControl',
    scpd: '/sim/rc/scpd.xml',
    control: '/sim/rc/ctl',
    event: '/sim/rc/evt',
  },
  pq: {
    type: 'urn:schemas-wiimu-com:service:PlayQueue:1',
    id: 'urn:wiimu-com:serviceId:PlayQueue',
    scpd: '/sim/pq/scpd.xml',
    control: '/sim/pq/ctl',
    event: '/sim/pq/evt',
  },
};

const MEDIUM: Record<number, string> = {
  40: 'LINE-IN',
  41: 'BLUETOOTH',
  43: 'OPTICAL',
  45: 'COAXIAL',
  47: 'LINE-IN2',
  49: 'HDMI',
  11: 'UDISK',
  31: 'SONGLIST-NETWORK',
};
const TRACK_SOURCE: Record<number, string> = { 31: 'Spotify', 10: 'Prime', 1: 'AirPlay' };

interface Sub {
  sid: string;
  service: Service;
  callback: string;
  seq: number;
  expiresAt: number;
  /** the state last announced (without the position) */
  last: string;
  /** RenderingControl: the group members and the output last announced (their changes are sent, not their state) */
  followers: string[];
  output: string;
  /** NOTIFYs leave in order, one after the other */
  chain: Promise<void>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function hms(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export class UpnpSim {
  faults: UpnpFaults = defaultUpnpFaults();
  /** SUBSCRIBE, RENEW, UNSUBSCRIBE and NOTIFY, in order: `<verb> <service> [seq]` */
  readonly log: string[] = [];
  private readonly subs = new Map<string, Sub>();
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private boundPort = 0;

  constructor(
    private readonly host: () => string,
    private readonly model: () => UpnpModel,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  get descriptionUrl(): string {
    return `http://${urlHost(this.host(), this.boundPort)}/description.xml`;
  }

  /** Live subscriptions. */
  get subscriptions(): number {
    return this.subs.size;
  }

  /** The SIDs handed out and still live, with their service (tests forge NOTIFYs with them). */
  get sids(): Array<{ sid: string; service: string }> {
    return [...this.subs.values()].map((s) => ({ sid: s.sid, service: s.service }));
  }

  /** 49152 as on a real device when the sim has a loopback address of its own; an ephemeral port otherwise. */
  async start(port?: number): Promise<number> {
    const host = this.host();
    const server = http.createServer((req, res) => this.onRequest(req, res));
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port ?? (host !== '127.0.0.1' && host !== 'localhost' ? 49152 : 0), host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.subs.clear();
    if (!server) return;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Forgets every subscription (a reboot) without telling anyone. */
  forget(): void {
    this.subs.clear();
  }

  reset(): void {
    this.faults = defaultUpnpFaults();
    this.log.length = 0;
    this.subs.clear();
  }

  /** Something changed on the device: each subscription whose service state differs gets a NOTIFY. */
  changed(): void {
    for (const sub of this.subs.values()) this.announce(sub, false);
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    const reply = (status: number, headers: Record<string, string> = {}, body = '') => {
      res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (this.faults.noUpnp) return reply(404);
    const path = req.url ?? '';
    if (req.method === 'GET' && path === '/description.xml') return reply(200, { 'Content-Type': 'text/xml' }, this.description());
    const service = (Object.keys(PATHS) as Service[]).find((s) => PATHS[s].event === path);
    if (!service) return reply(404);
    const sid = req.headers.sid;
    if (req.method === 'SUBSCRIBE') {
      const callback = req.headers.callback;
      const timeout = /^Second-(\d+)$/i.exec(String(req.headers.timeout ?? ''));
      const asked = timeout ? Number(timeout[1]) : 1800;
      const granted = this.faults.grantedTimeoutS > 0 ? this.faults.grantedTimeoutS : asked;
      // UDA 1.1, 4.1.2: SID together with CALLBACK or NT is a bad request
      if (typeof sid === 'string' && (callback !== undefined || req.headers.nt !== undefined)) return reply(400);
      if (typeof sid === 'string') {
        const sub = this.subs.get(sid);
        this.log.push(`RENEW ${service}`);
        if (!sub || sub.service !== service || this.faults.renew412 || sub.expiresAt < Date.now()) {
          if (sub) this.subs.delete(sid);
          return reply(412);
        }
        sub.expiresAt = Date.now() + granted * 1000;
        return reply(200, { SID: sid, TIMEOUT: `Second-${granted}` });
      }
      const url = typeof callback === 'string' ? /^<(http:\/\/[^>]+)>/.exec(callback)?.[1] : undefined;
      if (!url || req.headers.nt !== 'upnp:event') return reply(412);
      const sub: Sub = {
        sid: `uuid:${randomUUID()}`,
        service,
        callback: url,
        seq: 0,
        expiresAt: Date.now() + granted * 1000,
        last: '',
        followers: [...this.model().followers],
        output: this.model().output,
        chain: Promise.resolve(),
      };
      this.subs.set(sub.sid, sub);
      this.log.push(`SUBSCRIBE ${service}`);
      reply(200, { SID: sub.sid, TIMEOUT: `Second-${granted}` });
      // the initial event follows the reply (UDA 1.1, 4.2)
      setImmediate(() => this.announce(sub, true));
      return;
    }
    if (req.method === 'UNSUBSCRIBE') {
      this.log.push(`UNSUBSCRIBE ${service}`);
      if (typeof sid !== 'string' || !this.subs.delete(sid)) return reply(412);
      return reply(200);
    }
    reply(405);
  }

  private description(): string {
    const m = this.model();
    const services = (Object.keys(PATHS) as Service[])
      .map(
        (s) =>
          `<service><serviceType>${PATHS[s].type}</serviceType><serviceId>${PATHS[s].id}</serviceId><SCPDURL>${PATHS[s].scpd}</SCPDURL>` +
          `<controlURL>${PATHS[s].control}</controlURL><eventSubURL>${PATHS[s].event}</eventSubURL></service>`,
      )
      .join('');
    return (
      `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>` +
      `<device><deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType><friendlyName>${esc(m.name)}</friendlyName>` +
      `<manufacturer>Linkplay Technology Inc.</manufacturer><UDN>uuid:${esc(m.uuid)}</UDN><serviceList>${services}</serviceList></device></root>`
    );
  }

  /** The service's state variables; `withPosition` adds RelativeTimePosition (initial event and track start). */
  private variables(service: Service, withPosition: boolean): string {
    const m = this.model();
    if (service === 'rc') return `<Volume channel="Master" val="${m.volume}"/><Mute channel="Master" val="${m.muted ? 1 : 0}"/>`;
    if (service === 'pq') return `<${this.faults.loopMpde ? 'LoopMpde' : 'LoopMode'} val="${m.loop}"/>`;
    const transport = { play: 'PLAYING', pause: 'PAUSED_PLAYBACK', stop: 'STOPPED', loading: 'TRANSITIONING' }[m.status];
    const t = m.track;
    const meta = m.status === 'stop' ? '' : this.faults.didlJson ? this.jsonMeta(t) : this.didl(t);
    let out =
      `<TransportState val="${transport}"/><CurrentTrackDuration val="${hms(t.durationMs)}"/>` +
      `<CurrentTrackMetaData val="${esc(meta)}"/><PlaybackStorageMedium val="${MEDIUM[m.mode] ?? 'SONGLIST-NETWORK'}"/>` +
      `<TrackSource val="${TRACK_SOURCE[m.mode] ?? ''}"/><CurrentTrack val="${m.trackIndex + 1}"/>`;
    if (withPosition) out += `<RelativeTimePosition val="${hms(m.position)}"/>`;
    return out;
  }

  private didl(t: UpnpModel['track']): string {
    return (
      `<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="urn:schemas-upnp-org:metadata-1-0/upnp/" ` +
      `xmlns:song="www.wiimu.com/song/" xmlns="urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/"><upnp:class>object.item.audioItem.musicTrack</upnp:class>` +
      `<item><song:bitrate>320</song:bitrate><song:format_s>16</song:format_s><song:rate_hz>44100</song:rate_hz>` +
      `<res protocolInfo="http-get:*:audio/mpeg:DLNA.ORG_PN=MP3;" duration="${hms(t.durationMs)}.000"></res>` +
      `<dc:title>${esc(t.title)}</dc:title><upnp:artist>${esc(t.artist)}</upnp:artist><upnp:album>${esc(t.album)}</upnp:album>` +
      `<upnp:albumArtURI>${esc(t.artwork || 'un_known')}</upnp:albumArtURI></item></DIDL-Lite>`
    );
  }

  private jsonMeta(t: UpnpModel['track']): string {
    return JSON.stringify({
      title: t.title,
      artist: t.artist,
      album: t.album,
      albumArtURI: t.artwork || 'un_known',
      sampleRate: '44100',
      bitDepth: '16',
      bitRate: '320',
    });
  }

  /**
   * RenderingControl's changes that are events rather than state: a
   * `Slave` element per follower that joined or left, and WiiM's
   * `commonevent` when the output changed (what WiiM's `wiim` library and
   * pywiim read). Remembered as announced.
   */
  private rcChanges(sub: Sub): string {
    if (sub.service !== 'rc') return '';
    const m = this.model();
    let out = '';
    for (const ip of m.followers) if (!sub.followers.includes(ip)) out += `<Slave action="add" val="${esc(ip)}"/>`;
    for (const ip of sub.followers) if (!m.followers.includes(ip)) out += `<Slave action="rm" val="${esc(ip)}"/>`;
    if (m.output !== sub.output && m.output !== '') {
      out += `<commonevent val="${esc(JSON.stringify({ category: 'hardware', body: { output_mode: m.output } }))}"/>`;
    }
    sub.followers = [...m.followers];
    sub.output = m.output;
    return out;
  }

  private announce(sub: Sub, initial: boolean): void {
    if (!this.subs.has(sub.sid)) return;
    const changes = initial ? '' : this.rcChanges(sub);
    const key = this.variables(sub.service, false);
    if (!initial && key === sub.last && changes === '') return;
    const trackStarted =
      sub.service === 'avt' && sub.last !== '' && /CurrentTrack val="(\d+)"/.exec(sub.last)?.[1] !== /CurrentTrack val="(\d+)"/.exec(key)?.[1];
    sub.last = key;
    if (this.faults.eventsStop) return;
    const ns = sub.service === 'rc' ? 'urn:schemas-upnp-org:metadata-1-0/RCS/' : 'urn:schemas-upnp-org:metadata-1-0/AVT/';
    const event = `<Event xmlns="${ns}"><InstanceID val="0">${this.variables(sub.service, initial || trackStarted)}${changes}</InstanceID></Event>`;
    const body = `<?xml version="1.0"?><e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0"><e:property><LastChange>${esc(event)}</LastChange></e:property></e:propertyset>`;
    const seq = initial ? 0 : sub.seq;
    sub.seq = seq + 1;
    this.log.push(`NOTIFY ${sub.service} ${seq}`);
    sub.chain = sub.chain.then(() => this.notify(sub, seq, body)).catch(() => undefined);
  }

  /** Sends one NOTIFY from the device's own address (the receiver checks it). */
  private notify(sub: Sub, seq: number, body: string): Promise<void> {
    return new Promise((resolve) => {
      const u = new URL(sub.callback);
      const req = http.request(
        {
          method: 'NOTIFY',
          host: u.hostname,
          port: u.port,
          path: `${u.pathname}${u.search}`,
          localAddress: this.host(),
          agent: false,
          timeout: 5000,
          headers: { 'Content-Type': 'text/xml; charset="utf-8"', NT: 'upnp:event', NTS: 'upnp:propchange', SID: sub.sid, SEQ: String(seq) },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve());
      req.end(body);
    });
  }
}
