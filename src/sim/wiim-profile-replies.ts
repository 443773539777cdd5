import type { Reply } from './sim-server';
import type { SimSetting, WiimProfile } from './wiim-profiles';
import type { WiimSimSettings, WiimSimState } from './wiim-sim';

/**
 * The WiiM simulator's per-model answers (WiimSimulator.execute asks here
 * first): the settings a model has or lacks (`unknown command` for those it
 * lacks), and the reply forms of its firmware. The profiles themselves are
 * in wiim-profiles.ts.
 */

/** What the per-model answers read and change of the simulator. */
export interface ProfileDevice {
  readonly profile: WiimProfile;
  readonly settings: WiimSimSettings;
  readonly state: WiimSimState;
  readonly faults: { unknownCommands: string[] };
  /** the common handling's answer (`plain`: without these per-model answers) */
  execute(command: string, plain: boolean): Reply;
}

export const EQ_BAND_NAMES = ['band31hz', 'band63hz', 'band125hz', 'band250hz', 'band500hz', 'band1khz', 'band2khz', 'band4khz', 'band8khz', 'band16khz'];

const json = (value: unknown): Reply => ({ body: JSON.stringify(value), type: 'application/json' });
const ok = (): Reply => ({ body: 'OK' });
const okJson = (): Reply => json({ status: 'OK' });
const failed = (): Reply => ({ body: 'Failed' });
const failedJson = (): Reply => json({ status: 'Failed' });

export function lacks(sim: Pick<ProfileDevice, 'profile'>, setting: SimSetting): boolean {
  return !sim.profile.settings.includes(setting);
}

/** The output in use by its sound-card mode name (getActiveSoundCardOutputMode, commonevent). */
export function soundCardMode(profile: WiimProfile, settings: WiimSimSettings): string {
  return profile.soundCardModes[settings.output] ?? 'AUDIO_OTHER_OUT_MODE';
}

/**
 * The commands whose answer depends on the model: its settings (or
 * `unknown command` for those it lacks), and the reply forms of its
 * firmware. Undefined: the common handling answers.
 */
export function profileExecute(sim: ProfileDevice, command: string): Reply | undefined {
  const p = sim.profile;
  const parts = command.split(':');
  const head = parts[0];
  const unknown: Reply = { body: 'unknown command' };
  const set = sim.settings;
  const flag = (v: string | undefined) => (v === '1' ? true : v === '0' ? false : undefined);
  if (sim.faults.unknownCommands.includes(head)) return unknown;
  switch (head) {
    case 'EQOff':
      if (p.eqOffUnknown) return unknown;
      break;
    case 'EQGetStat':
      if (p.eqGetStatUnknown) return unknown;
      break;
    case 'EQGetBand': {
      if (lacks(sim, 'eq-bands') && !p.eqGetStatUnknown) return unknown;
      const user = p.userEqPresets?.includes(sim.state.eqPreset);
      const band = set.eqBands.map((value, index) => ({ index, param_name: EQ_BAND_NAMES[index], value }));
      return json({ EQStat: sim.state.eqOn ? 'On' : 'Off', Name: sim.state.eqPreset, EQBand: band, ...(user ? { EQLevel: 0 } : {}) });
    }
    case 'EQSetBand': {
      if (lacks(sim, 'eq-bands')) return unknown;
      let bands: unknown;
      try {
        bands = (JSON.parse(command.slice('EQSetBand:'.length)) as { EQBand?: unknown }).EQBand;
      } catch {
        return failedJson();
      }
      if (!Array.isArray(bands) || bands.length === 0) return failedJson();
      for (const b of bands as Array<{ index?: unknown; param_name?: unknown; value?: unknown }>) {
        const i = Number(b.index);
        const v = Number(b.value);
        if (!Number.isInteger(i) || i < 0 || i > 9 || b.param_name !== EQ_BAND_NAMES[i] || !Number.isInteger(v) || v < 0 || v > 99) return failedJson();
      }
      for (const b of bands as Array<{ index: number; value: number }>) set.eqBands[Number(b.index)] = Number(b.value);
      sim.state.eqOn = true;
      return okJson();
    }
    case 'getNewAudioOutputHardwareMode':
      if (lacks(sim, 'output')) return unknown;
      return json({ hardware: String(set.output), source: set.bluetoothOut ? '1' : '0', audiocast: '0' });
    case 'getActiveSoundCardOutputMode':
      if (lacks(sim, 'output') || !p.activeSoundCardGetter) return unknown;
      return json({ index: '0', mode: soundCardMode(sim.profile, sim.settings), cardId: '0', devName: '', audioCast: '0' });
    case 'setAudioOutputHardwareMode': {
      if (lacks(sim, 'output')) return unknown;
      const n = Number(parts[1]);
      if (parts.length !== 2 || !p.outputs.includes(n)) return failed();
      if (n === p.bluetoothOutput) set.bluetoothOut = true;
      else Object.assign(set, { output: n, bluetoothOut: false });
      return ok();
    }
    case 'getChannelBalance':
      return lacks(sim, 'balance') ? unknown : { body: String(set.balance) };
    case 'setChannelBalance': {
      if (lacks(sim, 'balance')) return unknown;
      const b = Number(parts[1]);
      if (parts.length !== 2 || parts[1] === '' || !Number.isFinite(b) || b < -1 || b > 1) return failed();
      set.balance = b;
      return ok();
    }
    case 'LED_SWITCH_SET':
    case 'MCU+PAS+RAKOIT': {
      // Arylic takes the LED through its MCU (MCU+PAS+RAKOIT:LED:1|0); WiiM through LED_SWITCH_SET
      if (lacks(sim, 'led') || (head === 'LED_SWITCH_SET') === !!p.mcuLed) return unknown;
      const v = flag(head === 'LED_SWITCH_SET' ? parts[1] : parts[1] === 'LED' ? parts[2] : undefined);
      if (v === undefined || parts.length !== (head === 'LED_SWITCH_SET' ? 2 : 3)) return failed();
      set.led = v;
      return ok();
    }
    case 'Button_Enable_SET': {
      if (lacks(sim, 'buttons')) return unknown;
      const v = flag(parts[1]);
      if (v === undefined || parts.length !== 2) return failed();
      set.buttons = v;
      return ok();
    }
    case 'getSubLPF':
      if (lacks(sim, 'sub')) return unknown;
      return json({ status: set.sub.status ? 1 : 0, cross: set.sub.cross, phase: set.sub.phase, level: set.sub.level, sub_delay: set.sub.sub_delay });
    case 'setSubLPF': {
      if (lacks(sim, 'sub')) return unknown;
      const [, field, raw] = parts;
      const v = Number(raw);
      const limits: Record<string, [number, number]> = { status: [0, 1], cross: [30, 250], phase: [0, 180], level: [-15, 15], sub_delay: [-200, 200] };
      const range = limits[field ?? ''];
      if (!range || parts.length !== 3 || raw === '' || !Number.isInteger(v) || v < range[0] || v > range[1]) return failed();
      if (field === 'phase' && v !== 0 && v !== 180) return failed();
      if (field === 'status') set.sub.status = v === 1;
      else set.sub[field as 'cross' | 'phase' | 'level' | 'sub_delay'] = v;
      return ok();
    }
    case 'getTriggeroutStatus':
      return lacks(sim, 'trigger') ? unknown : json({ status: set.trigger ? '1' : '0' });
    case 'setTriggeroutStatus': {
      if (lacks(sim, 'trigger')) return unknown;
      const v = flag(parts[1]);
      if (v === undefined || parts.length !== 2) return failed();
      set.trigger = v;
      return ok();
    }
    case 'getMvRemoteUpdateStartCheck':
      return ok();
    case 'getMvRemoteUpdateStart':
      set.updating = true;
      return ok();
    case 'getMvRemoteUpdateStatus':
      return { body: set.updating ? '31' : '0' };
    case 'getMvRomBurnPrecent':
      return { body: set.updating ? '42' : '0' };
    case 'setPlayerCmd': {
      const sub = parts[1];
      if (sub === 'slave_vol') {
        const v = Number(parts[2]);
        if (parts.length !== 3 || !Number.isInteger(v) || v < 0 || v > 100) return failed();
        for (const f of sim.state.followers) f.volume = v;
        sim.state.volume = v;
        return ok();
      }
      if (sub === 'slave_mute') {
        if (parts.length !== 3 || (parts[2] !== 'mute' && parts[2] !== 'unmute')) return failed();
        for (const f of sim.state.followers) f.mute = parts[2] === 'mute';
        sim.state.muted = parts[2] === 'mute';
        return ok();
      }
      if (sub === 'playPromptUrl') {
        if (!/^[a-z][a-z0-9+.-]*:/i.test(parts.slice(2).join(':'))) return failed();
        set.prompts.push(parts.slice(2).join(':'));
        return ok();
      }
      if (sub === 'switchmode' && p.emptyAcks) return blankOk(sim, command);
      break;
    }
    case 'multiroom': {
      const f = sim.state.followers.find((x) => x.ip === parts[2]);
      if (parts[1] === 'SlaveVolume') {
        const v = Number(parts[3]);
        if (!f || parts.length !== 4 || !Number.isInteger(v) || v < 0 || v > 100) return failed();
        f.volume = v;
        return ok();
      }
      if (parts[1] === 'SlaveMute') {
        if (!f || parts.length !== 4 || (parts[3] !== '0' && parts[3] !== '1')) return failed();
        f.mute = parts[3] === '1';
        return ok();
      }
      break;
    }
    case 'EQLoad':
    case 'setAlarmClock':
    case 'timeSync':
      if (p.emptyAcks) return blankOk(sim, command);
      break;
  }
  if (p.emptyAcks && head === 'EQOff') return blankOk(sim, command);
  return undefined;
}

/** The common handling's answer, with an empty body where it says OK (pywiim api/base.py: some firmware answers so). */
function blankOk(sim: ProfileDevice, command: string): Reply {
  const r = sim.execute(command, true);
  return r.body === 'OK' || r.body === '{"status":"OK"}' ? { body: '' } : r;
}
