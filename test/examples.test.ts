import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { coreNode, helper, nextMessage, node, until, withTab } from './helpers/runtime';
import wiimConfig from '../src/nodes/wiim-config';
import wiimCommand from '../src/nodes/wiim-command';
import wiimStatus from '../src/nodes/wiim-status';
import sonoffConfig from '../src/nodes/sonoff-config';
import sonoffSwitch from '../src/nodes/sonoff-switch';
import sonoffPulse from '../src/nodes/sonoff-pulse';
import sonoffOta from '../src/nodes/sonoff-ota';
import { WiimSimulator } from '../src/sim/wiim-sim';
import { SonoffSimulator, makeFirmwareImage } from '../src/sim/sonoff-sim';

// Each example flow, as a user imports it, run against the simulators: every
// inject node is pressed and what reaches the device and the flow's outputs
// is checked. The dashboard example runs in the browser test.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { exampleFiles, loadFlows } = require('../../scripts/examples.js') as {
  exampleFiles(o?: { dashboard: boolean }): string[];
  loadFlows(files: string[], devices: object): Array<Record<string, unknown> & { id: string; type: string; wires?: string[][] }>;
};

const ours = [wiimConfig, wiimCommand, wiimStatus, sonoffConfig, sonoffSwitch, sonoffPulse, sonoffOta] as Array<(RED: unknown) => void>;
const core = ['common/20-inject.js', 'common/21-debug.js', 'common/25-catch.js', 'common/90-comment.js', 'function/15-change.js'].map(coreNode);
type Msg = Record<string, unknown> & { payload?: unknown; error?: { message: string } };

function file(name: string): string {
  const f = exampleFiles().find((p) => path.basename(p).startsWith(name));
  assert.ok(f, `no example ${name}`);
  return f;
}

describe('example flows against the simulators', function () {
  this.timeout(30000);
  let wiim: WiimSimulator;
  let relay: SonoffSimulator;
  let tmp: string;

  before(async () => {
    wiim = new WiimSimulator({ name: 'Example streamer' });
    await wiim.start({ port: 0 });
    relay = new SonoffSimulator({ deviceid: '1000abcdef' });
    await relay.start({ port: 0 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'examples-'));
  });
  after(async () => {
    await wiim.stop();
    await relay.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  afterEach(() => helper.unload());

  /** Loads an example with a helper node tapped onto `tap` (our node) and onto each catch node. */
  async function load(name: string, tap: string, extra: object = {}): Promise<void> {
    const flow = loadFlows([file(name)], {
      wiim: { host: '127.0.0.1', port: String(wiim.port), protocol: 'https', pollIdle: '0.2', pollPlaying: '0.2' },
      sonoff: { host: '127.0.0.1', port: String(relay.address.port), pollInterval: '0' },
      ...extra,
    });
    const tapped = flow.map((n) => {
      if (n.id === tap) return { ...n, wires: [[...(n.wires?.[0] ?? []), 'out']] };
      if (n.type === 'catch') return { ...n, wires: [[...(n.wires?.[0] ?? []), 'caught']] };
      return n;
    });
    const z = (flow.find((n) => n.type === 'tab') as { id: string }).id;
    await helper.load([...ours, ...core], withTab([...tapped, { id: 'out', type: 'helper', z }, { id: 'caught', type: 'helper', z }]));
  }

  /** Presses an inject node and resolves with what comes out of the node under test (or its Catch). */
  async function press(injectName: string): Promise<Msg> {
    const inject = (helper as unknown as { _redNodes: { eachNode(cb: (n: { id: string; type: string; name?: string }) => void): void } })._redNodes;
    let id: string | undefined;
    inject.eachNode((n) => {
      if (n.type === 'inject' && n.name === injectName) id = n.id;
    });
    assert.ok(id, `no inject node "${injectName}"`);
    const out = nextMessage<Msg>('out');
    const caught = nextMessage<Msg>('caught');
    node(id).receive({});
    const msg = await Promise.race([out, caught]);
    assert.equal(msg.error, undefined, `"${injectName}" failed: ${msg.error?.message}`);
    return msg;
  }

  it('wiim-command: play, pause, volume, mute and info', async () => {
    await load('wiim-command - play', 'ex_wc_cmd');
    await press('play a stream');
    assert.equal(wiim.state.url, 'http://stream.example.org/radio.mp3');
    assert.equal(wiim.state.status, 'play');
    await press('pause');
    assert.equal(wiim.state.status, 'pause');
    await press('resume');
    assert.equal(wiim.state.status, 'play');
    await press('next track');
    await press('volume 30');
    assert.equal(wiim.state.volume, 30);
    await press('volume +5');
    assert.equal(wiim.state.volume, 35);
    const muted = wiim.state.muted;
    await press('mute toggle');
    assert.equal(wiim.state.muted, !muted);
    const info = await press('device info');
    assert.equal((info.payload as { name: string }).name, 'Example streamer');
  });

  describe('the settings examples, against a WiiM Ultra', () => {
    let ultra: WiimSimulator;
    before(async () => {
      ultra = new WiimSimulator({ name: 'Example Ultra', model: 'ultra' });
      await ultra.start({ port: 0 });
    });
    after(() => ultra.stop());
    const onUltra = () => ({ wiim: { host: '127.0.0.1', port: String(ultra.port), protocol: 'https', pollIdle: '60', pollPlaying: '60' } });

    it('TV on → optical: the output follows the TV, and reads back', async () => {
      await load('wiim-command - TV on', 'ex_tv_cmd', onUltra());
      assert.equal((await press('TV on')).payload, 'optical');
      assert.deepEqual(
        ultra.requests.filter((r) => r.startsWith('setAudio')),
        ['setAudioOutputHardwareMode:1'],
      );
      assert.equal((await press('which output')).payload, 'optical');
      await press('TV off');
      assert.equal(ultra.settings.output, 2);
    });

    it('night mode: sub off, LED off, buttons locked; the morning turns them on', async () => {
      await load('wiim-command - night mode', 'ex_nm_btn_off', onUltra());
      await press('night');
      assert.deepEqual([ultra.settings.sub.status, ultra.settings.led, ultra.settings.buttons], [false, false, false]);
      assert.ok(ultra.requests.includes('setSubLPF:status:0') && ultra.requests.includes('LED_SWITCH_SET:0') && ultra.requests.includes('Button_Enable_SET:0'));
      await helper.unload();
      await load('wiim-command - night mode', 'ex_nm_btn_on', onUltra());
      await press('morning');
      assert.deepEqual([ultra.settings.sub.status, ultra.settings.sub.cross, ultra.settings.led, ultra.settings.buttons], [true, 80, true, true]);
    });

    it('multiroom volume: the group and one member', async () => {
      ultra.state.followers = [{ name: 'Kitchen', ip: '192.168.1.51', uuid: 'k', volume: 50, mute: true }];
      await load('wiim-command - multiroom volume', 'ex_mr_cmd', onUltra());
      await press('group volume 30');
      assert.equal(ultra.state.followers[0].volume, 30);
      await press('group mute');
      await press('kitchen volume 20');
      await press('kitchen unmute');
      assert.deepEqual([ultra.state.followers[0].volume, ultra.state.followers[0].mute], [20, false]);
      assert.equal(((await press('group members')).payload as { count: number }).count, 1);
    });

    it('balance, EQ bands and the 12 V trigger', async () => {
      await load('wiim-command - balance', 'ex_st_cmd', onUltra());
      await press('balance a bit left');
      assert.equal(ultra.settings.balance, -0.2);
      await press('more bass');
      assert.deepEqual(ultra.settings.eqBands.slice(0, 3), [65, 60, 50]);
      const eq = (await press('read the EQ')).payload as { bands: Array<{ hz: number; value: number }> };
      assert.deepEqual(eq.bands[0], { hz: 31, value: 65 });
      await press('amplifier on');
      assert.equal(ultra.settings.trigger, true);
    });

    it('announcements: a doorbell from a file and a TTS Buffer, the music back after each; the queue', async () => {
      const sound = path.join(tmp, 'doorbell.mp3');
      fs.writeFileSync(sound, Buffer.concat([Buffer.from('ID3\u0004\u0000\u0000\u0000\u0000\u0000\u0000', 'latin1'), Buffer.alloc(500)]));
      ultra.mediaLengthMs = 200;
      ultra.state.mode = 40;
      ultra.setStatus('play');
      await load('wiim-command - announcements', 'ex_an_cmd', {
        wiim: { ...onUltra().wiim, upnpPort: String(ultra.upnp.port), events: 'off' },
        announceFile: sound,
      });
      const door = (await press('doorbell (file)')).payload as { method: string; resumed: boolean };
      assert.deepEqual([door.method, door.resumed], ['interrupt', true]);
      assert.equal(ultra.fetches.length, 1);
      assert.equal(ultra.state.mode, 40, 'back on line-in');
      const tts = (await press('TTS clip (a Buffer)')).payload as { method: string };
      assert.equal(tts.method, 'interrupt');
      assert.equal(ultra.fetches.length, 2);
      assert.equal(((await press('what is queued')).payload as unknown[]).length, 3);
    });

    it('doorbell and firmware', async () => {
      await load('wiim-command - doorbell', 'ex_nf_cmd', onUltra());
      await press('doorbell');
      assert.deepEqual(ultra.settings.prompts, ['http://192.168.1.10/sounds/doorbell.mp3']);
      await press('check for an update');
      assert.deepEqual((await press('update status')).payload, { status: '0', progress: 0 });
    });
  });

  it('wiim-status: reports what plays, on demand and on change', async () => {
    wiim.setStatus('play');
    await load('wiim-status', 'ex_ws_status');
    const msg = await press('refresh now');
    const p = msg.payload as { online: boolean; state: string; title: string; volume: number };
    assert.equal(p.online, true);
    assert.equal(p.state, 'playing');
    assert.equal(p.title, wiim.track.title);
    const next = nextMessage<Msg>('out');
    wiim.state.volume = 12;
    assert.equal(((await next).payload as { volume: number }).volume, 12);
  });

  it('sonoff-switch: on, off, toggle, read, power-on state, signal and info', async () => {
    const first = load('sonoff-switch', 'ex_ss_switch').then(() => nextMessage<Msg>('out'));
    // the relay's state as the flow starts, before any inject is pressed
    assert.equal((await first).payload, relay.outlets[0].on);
    assert.equal((await press('on')).payload, true);
    assert.equal(relay.outlets[0].on, true);
    assert.equal((await press('off')).payload, false);
    assert.equal(relay.outlets[0].on, false);
    assert.equal((await press('toggle')).payload, true);
    assert.equal(relay.outlets[0].on, true);
    assert.equal((await press('read state')).payload, true);
    assert.equal((await press('power-on: stay')).payload, 'stay');
    assert.equal(relay.outlets[0].startup, 'stay');
    assert.equal((await press('signal strength')).payload, relay.signalStrength);
    assert.equal(((await press('device info')).payload as { deviceid: string }).deviceid, '1000abcdef');
  });

  it('sonoff-pulse: inching on with a width, then off', async () => {
    await load('sonoff-pulse', 'ex_sp_pulse');
    await press('inching 2 s');
    assert.deepEqual([relay.outlets[0].pulse, relay.outlets[0].pulseWidth], [true, 2000]);
    await press('inching 1.5 s');
    assert.deepEqual([relay.outlets[0].pulse, relay.outlets[0].pulseWidth], [true, 1500]);
    await press('inching off');
    assert.equal(relay.outlets[0].pulse, false);
  });

  it('sonoff-ota: flashes a local image', async () => {
    const image = path.join(tmp, 'fw.bin');
    fs.writeFileSync(image, makeFirmwareImage(64 * 1024));
    await load('sonoff-ota', 'ex_so_ota', { otaImage: image });
    const msg = await press('flash image');
    const p = msg.payload as { status: string; bytes: number; sha256: string };
    assert.equal(p.status, 'done');
    assert.equal(p.bytes, 64 * 1024);
    await until(() => relay.flashes.length === 1, 'the simulator to record the flash');
  });
});
