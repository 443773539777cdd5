import assert from 'node:assert/strict';
import http from 'node:http';
import { wiimSessionFixture } from './helpers/wiim-session-fixture';
import { collect, coreNode, helper, nextMessage, sessionOf, withTab, type Msg } from './helpers/runtime';
import wiimConfig from '../src/nodes/wiim-config';
import wiimStatus from '../src/nodes/wiim-status';
import { until } from './helpers/wait';
import { freePort } from './helpers/net';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { WiimSession, type WiimSessionOptions, type WiimStateEvent } from '../src/sessions/wiim-session';
import net from 'node:net';
import { CALLBACK_LIMITS, CALLBACK_PATH, CallbackServer, callbackPorts, DEFAULT_CALLBACK_PORT, openCallbackServers } from '../src/sessions/upnp-callback';
import { listenCandidates, parseCallbackSetting, seqAfter, WiimEvents } from '../src/sessions/wiim-events';
import { decodeXml, fetchDescription, parseDescription, parseNotify, parseTrackMeta, renewAfterS, unsubscribe } from '../src/wiim/upnp';
import { MAX_TEXT_CHARS, normalisePlayerStatus } from '../src/wiim/parse';

const lastChange = (inner: string) =>
  `<?xml version="1.0"?><e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0"><e:property><LastChange>${inner
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')}</LastChange></e:property></e:propertyset>`;

describe('wiim UPnP protocol', () => {
  it('reads the services from a description, with its own paths, resolved against its URL', () => {
    const xml =
      '<root xmlns="urn:schemas-upnp-org:device-1-0"><device><serviceList>' +
      '<service><serviceType>urn:schemas-upnp-org:service:AVTransport:1</serviceType><controlURL>/a/c</controlURL><eventSubURL>/a/e</eventSubURL></service>' +
      '<service><serviceType>urn:schemas-upnp-org:service:ConnectionManager:1</serviceType><controlURL>/x</controlURL><eventSubURL>/y</eventSubURL></service>' +
      '</serviceList></device></root>';
    const services = parseDescription(xml, 'http://10.0.0.5:49152/description.xml');
    assert.deepEqual(services, [
      {
        name: 'avTransport',
        serviceType: 'urn:schemas-upnp-org:service:AVTransport:1',
        eventSubURL: 'http://10.0.0.5:49152/a/e',
        controlURL: 'http://10.0.0.5:49152/a/c',
      },
    ]);
  });

  it('reads AVTransport LastChange with DIDL-Lite (escaped twice), LinkPlay song: fields, & < and non-ASCII', () => {
    const didl =
      '<DIDL-Lite xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:upnp="u" xmlns:song="www.wiimu.com/song/"><item>' +
      '<song:bitrate>1411</song:bitrate><song:format_s>24</song:format_s><song:rate_hz>96000</song:rate_hz><res duration="0:04:05.000">x</res>' +
      '<dc:title>Rock &amp; Roll &lt;live&gt;</dc:title><upnp:artist>Björk 東京</upnp:artist><upnp:album>A</upnp:album><upnp:albumArtURI>un_known</upnp:albumArtURI></item></DIDL-Lite>';
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const body = lastChange(
      `<Event><InstanceID val="0"><TransportState val="PLAYING"/><CurrentTrackDuration val="0:04:05"/><RelativeTimePosition val="0:00:07"/>` +
        `<CurrentTrackMetaData val="${esc(didl)}"/><PlaybackStorageMedium val="BLUETOOTH"/></InstanceID></Event>`,
    );
    assert.deepEqual(parseNotify('avTransport', body).state, {
      state: 'playing',
      duration: 245,
      position: 7,
      title: 'Rock & Roll <live>',
      artist: 'Björk 東京',
      album: 'A',
      artwork: null,
      bitRate: 1411,
      bitDepth: 24,
      sampleRate: 96000,
      source: 'bluetooth',
    });
  });

  it('reads RenderingControl and PlayQueue (LoopMode and the firmware spelling LoopMpde)', () => {
    const rc = lastChange('<Event><InstanceID val="0"><Volume channel="Master" val="42"/><Mute channel="Master" val="1"/></InstanceID></Event>');
    assert.deepEqual(parseNotify('renderingControl', rc).state, { volume: 42, muted: true });
    for (const tag of ['LoopMode', 'LoopMpde']) {
      assert.deepEqual(parseNotify('playQueue', lastChange(`<Event><InstanceID val="0"><${tag} val="2"/></InstanceID></Event>`)).state, {
        repeat: 'all',
        shuffle: true,
      });
    }
  });

  it("reads WiiM's commonevent output_mode into output, and Slave add/rm as group changes", () => {
    const common = (mode: string) =>
      lastChange(
        `<Event><InstanceID val="0"><commonevent val="${JSON.stringify({ category: 'hardware', body: { output_mode: mode } }).replace(/"/g, '&quot;')}"/></InstanceID></Event>`,
      );
    const outputs: Record<string, string> = {
      AUDIO_OUTPUT_SPDIF_MODE: 'optical',
      AUDIO_OUTPUT_AUX_MODE: 'line-out',
      AUDIO_OUTPUT_COAX_MODE: 'coax',
      AUDIO_OUTPUT_PHONE_JACK_MODE: 'headphones',
      AUDIO_OUTPUT_SPEAKER_MODE: 'speaker',
      AUDIO_OUTPUT_USB_DAC_MODE: 'usb-dac',
      AUDIO_HDMI_ARC_MODE: 'hdmi-arc',
    };
    for (const [mode, output] of Object.entries(outputs)) assert.deepEqual(parseNotify('renderingControl', common(mode)).state, { output }, mode);
    const other = lastChange(
      '<Event><InstanceID val="0"><commonevent val="{&quot;category&quot;:&quot;network&quot;,&quot;body&quot;:{}}"/></InstanceID></Event>',
    );
    assert.deepEqual(parseNotify('renderingControl', other).state, {});
    const slaves = parseNotify(
      'renderingControl',
      lastChange('<Event><InstanceID val="0"><Slave action="add" val="10.0.0.7"/><Slave action="rm" val="10.0.0.8"/></InstanceID></Event>'),
    );
    assert.deepEqual(slaves.extras.slaves, [
      { action: 'add', value: '10.0.0.7' },
      { action: 'rm', value: '10.0.0.8' },
    ]);
  });

  it('reads DIDL sent as JSON', () => {
    assert.deepEqual(
      parseTrackMeta('{"title":"T","artist":"A","album":"B","albumArtURI":"http://x/y.jpg","sampleRate":"48000","bitDepth":"24","bitRate":"0"}'),
      {
        title: 'T',
        artist: 'A',
        album: 'B',
        artwork: 'http://x/y.jpg',
        sampleRate: 48000,
        bitDepth: 24,
        bitRate: 0,
      },
    );
  });

  it('refuses entity declarations, deep nesting and malformed XML; decodes only the predefined entities', () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><e:propertyset xmlns:e="e"><e:property><LastChange>&b;</LastChange></e:property></e:propertyset>';
    assert.throws(() => parseNotify('renderingControl', bomb), /DTD/);
    assert.throws(() => parseNotify('renderingControl', '<a>'.repeat(100) + '</a>'.repeat(100)), /malformed|nested/i);
    assert.throws(() => parseNotify('renderingControl', '<e:propertyset><e:property>'), /malformed/);
    assert.equal(decodeXml('&amp;lt; &#x41;&#66; &foo;'), '&lt; AB &foo;');
  });

  it('renews a minute before expiry, at least every 30 s, and within a short grant', () => {
    assert.equal(renewAfterS(1800), 1740);
    assert.equal(renewAfterS(90), 30);
    assert.equal(renewAfterS(20), 10);
  });

  it('reads the callback setting host[:port]', () => {
    assert.equal(parseCallbackSetting(''), undefined);
    assert.deepEqual(parseCallbackSetting('192.168.1.10'), { host: '192.168.1.10', port: undefined });
    assert.deepEqual(parseCallbackSetting('192.168.1.10:0'), { host: '192.168.1.10', port: 0 });
    assert.deepEqual(parseCallbackSetting('nas.local:8089'), { host: 'nas.local', port: 8089 });
    assert.deepEqual(parseCallbackSetting('[fe80::1]:9000'), { host: 'fe80::1', port: 9000 });
    assert.equal(parseCallbackSetting('a:99999'), undefined);
    assert.equal(parseCallbackSetting('http://x'), undefined);
  });

  it('checks event values as the poll parser does: a refused value is dropped and named, the rest applies', () => {
    for (const bad of ['1e308', '-50', '0x10', '7.5', '101', '']) {
      const rc = lastChange(`<Event><InstanceID val="0"><Volume channel="Master" val="${bad}"/><Mute channel="Master" val="1"/></InstanceID></Event>`);
      const event = parseNotify('renderingControl', rc);
      assert.deepEqual(event.state, { muted: true }, bad);
      assert.deepEqual(event.dropped, [`Volume "${bad}"`], bad);
      // the poll parser refuses the same (and reads it as it reads a missing volume)
      assert.equal(normalisePlayerStatus({ vol: bad, mute: '1' }).volume, 0, bad);
    }
    for (const bad of ['true', '2', '-1']) {
      const rc = lastChange(`<Event><InstanceID val="0"><Volume channel="Master" val="0"/><Mute channel="Master" val="${bad}"/></InstanceID></Event>`);
      assert.deepEqual(parseNotify('renderingControl', rc), { state: { volume: 0 }, extras: {}, dropped: [`Mute "${bad}"`] }, bad);
      assert.equal(normalisePlayerStatus({ vol: '0', mute: bad }).muted, false, bad);
    }
    const past = lastChange('<Event><InstanceID val="0"><CurrentTrackDuration val="0:03:00"/><RelativeTimePosition val="0:05:00"/></InstanceID></Event>');
    assert.deepEqual(parseNotify('avTransport', past), { state: { duration: 180 }, extras: {}, dropped: ['RelativeTimePosition "0:05:00"'] });
    assert.equal(normalisePlayerStatus({ curpos: '300000', totlen: '180000' }).position, 180, 'a polled position past the end is held at the end');
    // a 60 KB title is cut to the length the poll path passes on
    const long = 'T'.repeat(60_000);
    const didl = `<DIDL-Lite><item><dc:title>${long}</dc:title></item></DIDL-Lite>`.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const title = parseNotify('avTransport', lastChange(`<Event><InstanceID val="0"><CurrentTrackMetaData val="${didl}"/></InstanceID></Event>`)).state.title;
    assert.equal(title?.length, MAX_TEXT_CHARS);
    assert.equal(normalisePlayerStatus({ Title: long }).title?.length, MAX_TEXT_CHARS);
  });

  it('orders SEQ per SID: at or below the last is old; after 4294967295 comes 1 (UDA 1.1, 4.3.2)', () => {
    assert.equal(seqAfter(0, undefined), true);
    assert.equal(seqAfter(6, 5), true);
    assert.equal(seqAfter(5, 5), false);
    assert.equal(seqAfter(4, 5), false);
    assert.equal(seqAfter(1, 4294967295), true, 'the wrap');
    assert.equal(seqAfter(3, 4294967290), true, 'the wrap, with a NOTIFY lost');
    assert.equal(seqAfter(0, 4294967295), false, 'SEQ 0 is only the initial event');
    assert.equal(seqAfter(4294967295, 2), false, 'a replay from before the wrap');
  });

  it('listens on the local address the device reaches (or the setting host, then that address), at the default port and its fallbacks', () => {
    assert.deepEqual(callbackPorts(18491, true), [18491, 18492, 18493, 18494, 18495, 18496, 18497, 18498, 18499, 18500, 0]);
    assert.deepEqual(callbackPorts(8089, false), [8089]);
    assert.equal(DEFAULT_CALLBACK_PORT, 18491);
    assert.deepEqual(listenCandidates(undefined, '10.0.0.2', 0), [{ host: '10.0.0.2', port: 0 }]);
    assert.deepEqual(listenCandidates({ host: 'nas.local', port: 9000 }, '10.0.0.2', 18491), [
      { host: 'nas.local', port: 9000 },
      { host: '10.0.0.2', port: 9000 },
    ]);
    assert.deepEqual(
      listenCandidates({ host: '10.0.0.2', port: undefined }, '10.0.0.2', 18491).map((c) => c.port),
      callbackPorts(18491, true),
    );
    assert.match(CALLBACK_PATH, /^\/upnp\/[0-9a-f]{32}$/);
  });
});

describe('UPnP callback server limits', function () {
  this.timeout(10000);
  const servers: CallbackServer[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('caps connections at 64 and closes idle and slow-header connections within 10 s', async () => {
    const server = new CallbackServer([{ host: '127.0.0.1', port: 0 }]);
    servers.push(server);
    await server.ready;
    assert.equal(server.http.maxConnections, 64);
    assert.equal(server.http.headersTimeout, CALLBACK_LIMITS.headersTimeoutMs);
    assert.equal(server.http.requestTimeout, CALLBACK_LIMITS.requestTimeoutMs);
    assert.equal(server.http.keepAliveTimeout, CALLBACK_LIMITS.keepAliveTimeoutMs);
    // a timeout is noticed at the next check: each with the check interval stays within 10 s
    for (const t of [CALLBACK_LIMITS.headersTimeoutMs, CALLBACK_LIMITS.requestTimeoutMs, CALLBACK_LIMITS.keepAliveTimeoutMs])
      assert.ok(t + CALLBACK_LIMITS.checkIntervalMs <= 10_000, String(t));
  });

  it('a connection that sends a head slowly, or nothing, is closed by the server (short limits injected)', async () => {
    const server = new CallbackServer([{ host: '127.0.0.1', port: 0 }], {
      ...CALLBACK_LIMITS,
      headersTimeoutMs: 200,
      requestTimeoutMs: 300,
      checkIntervalMs: 50,
    });
    servers.push(server);
    await server.ready;
    const closedByServer = (first: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(server.port, '127.0.0.1', () => socket.write(first));
        let reply = '';
        socket.on('data', (d) => (reply += d.toString()));
        socket.on('close', () => resolve(reply));
        socket.on('error', () => undefined);
      });
    assert.match(await closedByServer(`NOTIFY ${CALLBACK_PATH} HTTP/1.1\r\nHost: x\r\n`), /^HTTP\/1\.1 408/);
    assert.match(await closedByServer(''), /^HTTP\/1\.1 408/, 'a connection that never sends');
  });

  it('listens on its one address only', async () => {
    const server = new CallbackServer([{ host: '127.0.0.1', port: 0 }]);
    servers.push(server);
    await server.ready;
    const reach = (host: string) =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(server.port, host, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
    assert.equal(await reach('127.0.0.1'), true);
    assert.equal(await reach('127.0.0.2'), false, 'another loopback address of the same host');
  });
});

describe('wiim session with UPnP events', function () {
  this.timeout(20000);
  const fx = wiimSessionFixture('Events Room');
  const { sim } = fx;

  function open(options: Partial<WiimSessionOptions> = {}): { session: WiimSession; seen: WiimStateEvent[] } {
    const session = fx.open({ descriptionUrl: sim.descriptionUrl, ...options });
    const seen: WiimStateEvent[] = [];
    session.on('state', (e) => seen.push(e));
    session.register({});
    return { session, seen };
  }

  const log = (verb: string) => sim.upnp.log.filter((l) => l.startsWith(verb)).length;

  it('subscribes to every service, takes the initial events, and device-side changes arrive as push with no poll between; the status says live', async () => {
    const { session, seen } = open();
    await until(() => session.live && log('NOTIFY') >= 3 && seen.some((e) => e.source === 'push'), 'events live');
    assert.equal(log('SUBSCRIBE'), 3);
    const polls = sim.count('getPlayerStatus');
    sim.device((s) => (s.state.volume = 77));
    await until(() => session.state?.volume === 77, 'volume by event');
    sim.device((s) => (s.state.muted = true));
    await until(() => session.state?.muted === true, 'mute by event');
    sim.state.tracks[1] = { title: 'Fish & <Chips> ü', artist: 'Ærø', album: 'X', artwork: '', durationMs: 200000 };
    sim.device((s) => s.playTrack(1));
    await until(() => session.state?.title === 'Fish & <Chips> ü', 'track by event');
    assert.equal(session.state?.state, 'playing');
    assert.equal(session.state?.artist, 'Ærø');
    assert.equal(session.state?.duration, 200);
    assert.equal(session.state?.sampleRate, 44100);
    sim.device((s) => (s.state.mode = 43));
    await until(() => session.state?.source === 'optical', 'source by event');
    sim.upnp.faults.loopMpde = true;
    sim.device((s) => (s.state.loop = 1));
    await until(() => session.state?.repeat === 'one', 'loop (LoopMpde) by event');
    assert.equal(sim.count('getPlayerStatus'), polls, 'no poll went out');
    const last = seen[seen.length - 1];
    assert.equal(last.source, 'push');
    assert.deepEqual(last.changed, ['repeat']);
  });

  it("an event that arrives while a poll is out stands: the poll's older reply does not put back what it changed", async () => {
    const { session, seen } = open();
    await until(() => session.live && session.state?.volume !== undefined, 'events live');
    const before = session.state?.volume;
    const polls = sim.count('getPlayerStatus');
    // the device answers the read now, and the reply reaches us only after the event
    const release = sim.holdReplies();
    const read = session.refresh();
    await until(() => sim.count('getPlayerStatus') > polls, 'the read is out');
    sim.device((s) => (s.state.volume = before === 31 ? 32 : 31));
    const pushed = sim.state.volume;
    await until(() => session.state?.volume === pushed, 'the volume by event');
    const from = seen.length;
    release();
    const event = await read;
    assert.equal(event.state.volume, pushed, "the read's reply had the volume from before the event");
    assert.equal(session.state?.volume, pushed);
    assert.deepEqual(
      seen.slice(from).map((e) => e.state.volume),
      seen.slice(from).map(() => pushed),
      'no state went back',
    );
  });

  it('renews before expiry, subscribes afresh after 412, and polls slowly while events flow', async () => {
    const { session } = open();
    await until(() => session.live, 'events live');
    await fx.clock.advance(1740_000);
    await until(() => log('RENEW') === 3, 'renewals');
    assert.equal(log('SUBSCRIBE'), 3);
    sim.upnp.faults.renew412 = true;
    await fx.clock.advance(1740_000);
    await until(() => log('SUBSCRIBE') >= 4, 'fresh subscriptions after 412');
    // polls: the first one, then one per minute of consistency reads
    const polls = sim.count('getPlayerStatus');
    assert.ok(polls >= 2 && polls <= 60, `${polls} polls in 58 minutes`);
  });

  it('one renewal timer per device: when it fires every subscription is renewed; a 412 on one of them subscribes all afresh', async () => {
    const clock = fx.clock;
    const services: string[] = [];
    const events = new WiimEvents({
      descriptionUrl: sim.descriptionUrl,
      clock,
      timeoutMs: 2000,
      callbackPort: 0,
      onState: (_state, service) => services.push(service),
      onLive: () => undefined,
    });
    const renewIn = renewAfterS(1800) * 1000;
    events.start();
    try {
      await until(() => events.live, 'events live');
      assert.equal(log('SUBSCRIBE'), 3);
      assert.equal(clock.pending, 1, 'one timer for three subscriptions');
      assert.equal(clock.nextIn, renewIn, 'due at the earliest renewal');
      await clock.advance(renewIn);
      await until(() => log('RENEW') === 3 && clock.pending === 1, 'all three renewed, the timer set again');
      assert.equal(clock.nextIn, renewIn);
      assert.equal(log('SUBSCRIBE'), 3);
      // the device forgets one subscription: its renewal gets 412, and all are subscribed afresh
      const rc = (await fetchDescription(sim.descriptionUrl, 2000)).services.find((s) => s.name === 'renderingControl');
      await unsubscribe(rc?.eventSubURL ?? '', sim.upnp.sids.find((s) => s.service === 'rc')?.sid ?? '', 2000);
      assert.equal(sim.upnp.subscriptions, 2);
      await clock.advance(renewIn);
      await until(() => log('RENEW') === 6 && log('SUBSCRIBE') === 6 && sim.upnp.subscriptions === 3 && clock.pending === 1, 'subscribed afresh');
      assert.equal(events.live, true);
      assert.equal(clock.nextIn, renewIn);
      services.length = 0;
      sim.device((s) => (s.state.volume = 33));
      await until(() => services.includes('renderingControl'), 'an event through the fresh subscription');
    } finally {
      await events.stop();
    }
    assert.equal(clock.pending, 0, 'no timer after stop');
    await until(() => sim.upnp.subscriptions === 0, 'UNSUBSCRIBE on stop');
  });

  it('renews a short grant within it; reads track metadata sent as JSON', async () => {
    sim.upnp.faults.grantedTimeoutS = 20;
    sim.upnp.faults.didlJson = true;
    const { session } = open();
    await until(() => session.live, 'events live');
    await fx.clock.advance(10_000);
    await until(() => log('RENEW') === 3, 'renewed at half the grant');
    sim.device((s) => s.playTrack(2));
    await until(() => session.state?.title === 'Freddie Freeloader' && session.state.bitDepth === 16, 'metadata by JSON');
  });

  it('a poll that finds a change no event reported resubscribes (events that stop)', async () => {
    const { session } = open();
    await until(() => session.live, 'events live');
    sim.upnp.faults.eventsStop = true;
    sim.device((s) => (s.state.volume = 12));
    await fx.clock.advance(60_000);
    await until(() => session.state?.volume === 12, 'the poll saw it');
    await until(() => log('SUBSCRIBE') >= 6, 'resubscribed');
  });

  it('a device back from offline (a reboot: it forgot its subscribers) is subscribed afresh', async () => {
    const { session } = open({ offlineAfter: 1 });
    await until(() => session.live, 'events live');
    const upnpPort = sim.upnp.port;
    await sim.stop();
    await fx.clock.advance(60_000);
    await until(() => session.health === 'offline', 'offline');
    await sim.start({ port: fx.port, upnpPort });
    for (let i = 0; i < 20 && session.health !== 'online'; i++) await fx.clock.advance(30_000);
    await until(() => log('SUBSCRIBE') >= 6 && session.live, 'subscribed afresh');
  });

  it('a device without UPnP is polled as before; events off never subscribes', async () => {
    sim.upnp.faults.noUpnp = true;
    const a = open();
    await fx.clock.advance(5000);
    assert.equal(a.session.live, false);
    assert.ok(sim.count('getPlayerStatus') >= 2);
    await a.session.close();
    sim.upnp.faults.noUpnp = false;
    const b = open({ events: 'off' });
    await fx.clock.advance(10_000);
    assert.equal(b.session.events, undefined);
    assert.equal(log('SUBSCRIBE'), 0);
  });

  it('the callback address is the one the device connection uses; the setting overrides host and port', async () => {
    const a = open();
    await until(() => a.session.live, 'events live');
    assert.equal(a.session.events?.callbackUrl, `http://127.0.0.1:${new URL(a.session.events?.callbackUrl ?? 'http://x').port}${CALLBACK_PATH}`);
    await a.session.close();
    const b = open({ callback: '127.0.0.1:0' });
    await until(() => b.session.live, 'events live');
    assert.match(b.session.events?.callbackUrl ?? '', /^http:\/\/127\.0\.0\.1:/);
    await b.session.close();
    // a host of this machine and a port: listened on there, and only there
    const fixed = await freePort();
    const c = open({ callback: `127.0.0.9:${fixed}` });
    await until(() => c.session.live && c.session.state?.volume !== undefined, 'events through the fixed port');
    assert.equal(c.session.events?.callbackUrl, `http://127.0.0.9:${fixed}${CALLBACK_PATH}`);
    sim.device((s) => (s.state.volume = 55));
    await until(() => c.session.state?.volume === 55, 'an event through the override');
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect(fixed, '127.0.0.1', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    assert.equal(refused, true, 'not on the other addresses');
  });

  it('without a callback port: the default port, or when it is taken the next one, logged', async () => {
    const taken = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    try {
      const lines: string[] = [];
      const { session } = open({ callbackPort: taken, log: (m) => lines.push(m) });
      await until(() => session.live, 'events live');
      const port = Number(new URL(session.events?.callbackUrl ?? '').port);
      assert.ok(port > taken && port <= taken + 9, `${port} after ${taken}`);
      assert.deepEqual(lines, [`UPnP events: port ${taken} is taken, listening on ${port}`]);
    } finally {
      blocker.close();
    }
  });

  it('hostile NOTIFYs (unknown SID, bad headers, oversized, entity bomb) change nothing', async () => {
    const { session } = open();
    await until(() => session.live && session.state?.repeat !== undefined && session.state.volume !== undefined, 'events live');
    const url = new URL(session.events?.callbackUrl ?? '');
    const before = JSON.stringify(session.state);
    const notify = (headers: Record<string, string>, body: string, localAddress = '127.0.0.1', path = url.pathname) =>
      new Promise<number>((resolve) => {
        const req = http.request({ method: 'NOTIFY', host: url.hostname, port: url.port, path, headers, agent: false, localAddress }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(-1));
        req.end(body);
      });
    const rc = lastChange('<Event><InstanceID val="0"><Volume channel="Master" val="99"/></InstanceID></Event>');
    assert.equal(await notify({ NT: 'upnp:event', NTS: 'upnp:propchange', SID: 'uuid:nobody', SEQ: '1' }, rc), 412);
    assert.equal(await notify({ NT: 'upnp:event', SID: 'uuid:nobody', SEQ: '1' }, rc), 400);
    const rcSid = sim.upnp.sids.find((s) => s.service === 'rc')?.sid ?? '';
    const live = { NT: 'upnp:event', NTS: 'upnp:propchange', SID: rcSid, SEQ: '5' };
    for (const seq of ['99999999999999999999', '4294967296', '0x10', '1e3', '-1']) assert.equal(await notify({ ...live, SEQ: seq }, rc), 400, `SEQ ${seq}`);
    assert.equal(await notify(live, rc, '127.0.0.1', '/upnp/notify'), 404, 'another path');
    assert.equal(await notify(live, rc, '127.0.0.5'), 412, 'a live SID from another address');
    assert.equal(await notify(live, `<x>${'y'.repeat(200_000)}</x>`), 413, 'oversized');
    const bomb = `<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "${'a'.repeat(1000)}"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><e:propertyset xmlns:e="e"><e:property><LastChange>&b;</LastChange></e:property></e:propertyset>`;
    assert.equal(await notify(live, bomb), 200, 'taken from the device, but not read');
    assert.equal(await notify({ ...live, SEQ: '6' }, '<e:propertyset><e:property><LastChange>&lt;Event&gt;'), 200);
    assert.equal(session.events?.unreadable, 2);
    assert.equal(JSON.stringify(session.state), before);
    // a gap in SEQ (a NOTIFY lost on the way) is made good by a full read
    await until(() => !session.queue.busy, 'the reads after the forged SEQs are over');
    const polls = sim.count('getPlayerStatus');
    const vol = lastChange('<Event><InstanceID val="0"><Volume channel="Master" val="31"/></InstanceID></Event>');
    assert.equal(await notify({ ...live, SEQ: '40' }, vol), 200);
    await until(() => sim.count('getPlayerStatus') > polls, 'a read after the gap');
  });

  it('event values the poll parser refuses are dropped with a debug line, the rest applies; an old SEQ is ignored, the wrap after 4294967295 is not', async () => {
    const debug: string[] = [];
    const { session, seen } = open({ debug: (m) => debug.push(m) });
    await until(() => session.live && session.state?.repeat !== undefined && session.state.volume !== undefined, 'events live');
    await until(() => !session.queue.busy, 'the first reads are over');
    const url = new URL(session.events?.callbackUrl ?? '');
    const sid = (service: string) => sim.upnp.sids.find((s) => s.service === service)?.sid ?? '';
    /** the SEQ the device would send next on `service` (its own NOTIFYs so far), so that no gap calls for a full read */
    const next: Record<string, number> = {};
    const seqOf = (service: string) => (next[service] ??= sim.upnp.log.filter((l) => l.startsWith(`NOTIFY ${service} `)).length);
    const notify = (service: string, inner: string, seq = seqOf(service)) =>
      new Promise<number>((resolve) => {
        if (seq === next[service]) next[service]++;
        const headers = { NT: 'upnp:event', NTS: 'upnp:propchange', SID: sid(service), SEQ: String(seq) };
        const req = http.request({ method: 'NOTIFY', host: url.hostname, port: url.port, path: url.pathname, headers, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.end(lastChange(`<Event><InstanceID val="0">${inner}</InstanceID></Event>`));
      });
    const volume = (v: string, mute = '0') => `<Volume channel="Master" val="${v}"/><Mute channel="Master" val="${mute}"/>`;
    const pushedVolumes = () => seen.filter((e) => e.source === 'push').map((e) => e.state.volume);

    assert.equal(await notify('rc', volume('31')), 200);
    await until(() => session.state?.volume === 31, 'a good volume');
    for (const [i, bad] of ['1e308', '-50', '0x10'].entries()) {
      const mute = String((i + 1) % 2);
      assert.equal(await notify('rc', volume(bad, mute)), 200);
      await until(() => debug.includes(`UPnP events: renderingControl Volume "${bad}" dropped`), `the debug line for ${bad}`);
      assert.equal(session.state?.volume, 31, bad);
      assert.equal(session.state?.muted, mute === '1', `the mute beside ${bad} applies`);
    }
    // an old SEQ, and the same SEQ again, are ignored
    const last = next.rc - 1;
    assert.equal(await notify('rc', volume('5'), last - 1), 200);
    assert.equal(await notify('rc', volume('6'), last), 200);
    await until(() => debug.filter((l) => / SEQ \d+ ignored, not after /.test(l)).length === 2, 'both ignored');
    assert.equal(session.state?.volume, 31);
    // the wrap: up to 4294967295 in steps of less than half the range (each a gap, after which the state is read in full), then 1
    const pushed = (v: number) => seen.some((e) => e.source === 'push' && e.state.volume === v);
    for (const [i, seq] of [2_000_000_000, 4_000_000_000, 4294967295].entries()) {
      assert.equal(await notify('rc', volume(String(38 + i)), seq), 200);
      await until(() => pushed(38 + i), `SEQ ${seq}`);
      await until(() => !session.queue.busy, 'the read after the gap is over');
    }
    next.rc = 1;
    assert.equal(await notify('rc', volume('41')), 200);
    await until(() => pushed(41), 'SEQ 1 after the wrap');
    assert.equal(await notify('rc', volume('3'), 4294967295), 200, 'a replay from before the wrap');
    assert.equal(await notify('rc', volume('42')), 200);
    await until(() => pushed(42), 'SEQ 2');
    assert.deepEqual(
      pushedVolumes().filter((v) => v !== undefined && [3, 5, 6].includes(v)),
      [],
      'no ignored NOTIFY reached the state',
    );
    // a position past the track's end: in the same event, and against the duration the session holds
    assert.equal(await notify('avt', '<CurrentTrackDuration val="0:03:00"/><RelativeTimePosition val="0:05:00"/>'), 200);
    await until(() => session.state?.duration === 180, 'the duration');
    assert.ok(debug.includes('UPnP events: avTransport RelativeTimePosition "0:05:00" dropped'));
    assert.equal(await notify('avt', '<RelativeTimePosition val="0:04:00"/>'), 200);
    await until(() => debug.includes('UPnP events: position 240 s dropped, past the duration 180 s'), 'the merge drops it');
    assert.ok((session.state?.position ?? 0) <= 180);
    assert.equal(await notify('avt', '<RelativeTimePosition val="0:02:00"/>'), 200);
    await until(() => session.state?.position === 120, 'a position within the track');
  });

  it('UNSUBSCRIBEs on close; 100 redeploys leave no subscription, server or timer', async () => {
    for (let i = 0; i < 100; i++) {
      const { session } = open();
      if (i % 25 === 0) await until(() => session.live, 'events live');
      await session.close();
      fx.sessions.splice(0);
    }
    await until(() => sim.upnp.subscriptions === 0, 'no subscription left');
    assert.equal(openCallbackServers(), 0);
    assert.equal(fx.clock.pending, 0);
  });
});

describe('wiim-status with UPnP events in Node-RED', function () {
  this.timeout(20000);
  const sim = new WiimSimulator({ name: 'Kitchen' });
  let port: number;

  before(async () => {
    ({ port } = await sim.start({ port: 0 }));
  });
  after(() => sim.stop());
  afterEach(() => helper.unload());

  function flow(extra: Record<string, unknown> = {}): object[] {
    const cfg = { id: 'cfg', type: 'wiim-config', name: 'Kitchen', host: '127.0.0.1', port: String(port), protocol: 'https', timeout: '1000' };
    return withTab([
      { ...cfg, pollPlaying: '30', pollIdle: '30', upnpPort: String(sim.upnp.port), ...extra },
      { id: 'st', type: 'wiim-status', device: 'cfg', output: 'change', meta: false, wires: [['out']] },
      { id: 'out', type: 'helper' },
      { id: 'watch', type: 'status', scope: ['st'], wires: [['statuses']] },
      { id: 'statuses', type: 'helper' },
    ]);
  }
  const nodes = [wiimConfig, wiimStatus, coreNode('common/25-status.js')] as Array<(RED: unknown) => void>;

  it('a volume turned on the device reaches the flow as msg.wiim.source "push", with no poll between; the status says live', async () => {
    sim.reset();
    await helper.load(nodes, flow());
    const statuses = collect<{ status: { text?: string } }>('statuses');
    const seen = collect<Msg & { wiim?: { source?: string } }>('out');
    // and the first poll is over, so that no read is out when the device changes
    const firstReadDone = () => sim.count('getPlayerStatus') > 0 && !sessionOf<WiimSession>('cfg').queue.sending;
    await until(
      () => sim.upnp.subscriptions === 3 && sim.upnp.log.filter((l) => l.startsWith('NOTIFY')).length >= 3 && seen.length > 0 && firstReadDone(),
      'events live',
    ).catch((e) => {
      throw new Error(`${(e as Error).message} ${JSON.stringify(sim.upnp.log)} ${seen.length} ${sim.requests.join(',')}`);
    });
    const polls = sim.count('getPlayerStatus');
    sim.device((s) => (s.state.volume = 64));
    await until(() => seen.some((m) => (m.payload as { volume?: number }).volume === 64), 'the volume by event');
    // the output that brought the new volume
    const first = seen.find((m) => (m.payload as { volume?: number }).volume === 64);
    assert.equal(first?.wiim?.source, 'push');
    assert.deepEqual(first?.changed, ['volume']);
    assert.equal(sim.count('getPlayerStatus'), polls);
    // RED._ translates in a full runtime; the test helper loads no catalogue and gives the key back
    await until(() => statuses.some((m) => /^wiim-status\.status\.stopped · wiim-status\.source\.live$/.test(m.status.text ?? '')), 'the status says live');
    await helper.unload();
    await until(() => sim.upnp.subscriptions === 0, 'UNSUBSCRIBE on redeploy');
  });

  it('mute, play state, a track with & < and non-ASCII, the source and the loop (both spellings) reach the flow as push, with no poll between', async () => {
    sim.reset();
    await helper.load(nodes, flow());
    const seen = collect<Msg & { wiim?: { source?: string } }>('out');
    await until(() => sim.upnp.subscriptions === 3 && seen.some((m) => (m.payload as { repeat?: string }).repeat !== undefined), 'events live');
    const polls = sim.count('getPlayerStatus');
    type Payload = { muted?: boolean; state?: string; title?: string; artist?: string; source?: string; repeat?: string; shuffle?: boolean };
    /** a change made on the device, and the output after it that shows it, sent as push */
    const onDevice = async (change: (s: WiimSimulator) => void, what: string, test: (p: Payload) => boolean) => {
      const from = seen.length;
      sim.device(change);
      await until(() => seen.slice(from).some((m) => test(m.payload as Payload)), what);
      assert.equal(seen.slice(from).find((m) => test(m.payload as Payload))?.wiim?.source, 'push', what);
    };
    await onDevice(
      (s) => (s.state.muted = true),
      'mute',
      (p) => p.muted === true,
    );
    sim.state.tracks[2] = { title: 'Fish & <Chips> ü 東京', artist: 'Ærø', album: 'X', artwork: '', durationMs: 200000 };
    await onDevice(
      (s) => s.playTrack(2),
      'play state and track',
      (p) => p.state === 'playing' && p.title === 'Fish & <Chips> ü 東京' && p.artist === 'Ærø',
    );
    await onDevice(
      (s) => s.setStatus('pause'),
      'paused',
      (p) => p.state === 'paused',
    );
    await onDevice(
      (s) => (s.state.mode = 41),
      'source',
      (p) => p.source === 'bluetooth',
    );
    await onDevice(
      (s) => (s.state.loop = 0),
      'loop (LoopMode)',
      (p) => p.repeat === 'all' && p.shuffle === false,
    );
    sim.upnp.faults.loopMpde = true;
    await onDevice(
      (s) => (s.state.loop = 1),
      'loop (LoopMpde)',
      (p) => p.repeat === 'one',
    );
    assert.equal(sim.count('getPlayerStatus'), polls, 'no poll went out');
  });

  it('a follower joining or leaving, and an output switched on the device, reach the flow as push; the group read is no poll', async () => {
    sim.reset();
    await helper.load(nodes, flow());
    const seen = collect<Msg & { wiim?: { source?: string; raw?: { slaves?: { followers?: unknown[] } } } }>('out');
    await until(() => sim.upnp.subscriptions === 3 && seen.some((m) => (m.payload as { output?: string }).output === 'line-out'), 'events live, output read');
    const polls = sim.count('getPlayerStatus');
    const groupReads = sim.count('multiroom:getSlaveList');
    type Seen = (typeof seen)[number];
    /** a change made on the device, and the first output after it that passes `test` */
    const onDevice = async (change: (s: WiimSimulator) => void, what: string, test: (m: Seen) => boolean): Promise<Seen> => {
      const from = seen.length;
      sim.device(change);
      await until(() => seen.slice(from).some(test), what);
      return seen.slice(from).find(test) as Seen;
    };
    const follower = (ip: string) => ({ name: ip, ip, uuid: `FF970016A6FE22C1660AB4${ip.slice(-1)}`, volume: 20, mute: false });
    const joined = await onDevice(
      (s) => s.state.followers.push(follower('127.0.0.7')),
      'a follower by event',
      (m) => (m.payload as { group?: string }).group === 'leader',
    );
    assert.equal(joined.wiim?.source, 'push');
    assert.deepEqual(joined.changed, ['group']);
    assert.equal(joined.wiim?.raw?.slaves?.followers?.length, 1);
    const second = await onDevice(
      (s) => s.state.followers.push(follower('127.0.0.8')),
      'a second follower by event',
      (m) => m.wiim?.raw?.slaves?.followers?.length === 2,
    );
    assert.equal(second.wiim?.source, 'push');
    assert.deepEqual(second.changed, ['group'], 'still the leader, with another member');
    const left = await onDevice(
      (s) => (s.state.followers = []),
      'the followers gone by event',
      (m) => (m.payload as { group?: string }).group === 'solo',
    );
    assert.equal(left.wiim?.source, 'push');
    const output = await onDevice(
      (s) => (s.settings.output = 1),
      'the output by event',
      (m) => (m.payload as { output?: string }).output === 'optical',
    );
    assert.equal(output.wiim?.source, 'push');
    assert.deepEqual(output.changed, ['output']);
    assert.equal(sim.count('getPlayerStatus'), polls, 'no poll went out');
    assert.equal(sim.count('multiroom:getSlaveList'), groupReads + 3, 'one read of the group per Slave event');
    assert.ok(sim.upnp.log.some((l) => l.startsWith('NOTIFY rc')));
  });

  it('events off never subscribes', async () => {
    sim.reset();
    await helper.load(nodes, flow({ events: 'off' }));
    await nextMessage('out');
    assert.equal(sim.upnp.log.length, 0);
  });
});
