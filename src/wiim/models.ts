/**
 * The models beyond the WiiM Mini: which device a getStatusEx describes, the
 * inputs it has, the loop-number scheme it uses, and the settings it lacks.
 * Facts and their public sources are listed in docs/architecture.md.
 */

export type ModelId = 'mini' | 'pro' | 'pro-plus' | 'ultra' | 'amp' | 'arylic' | 'audio-pro' | 'unknown';

export interface ModelInfo {
  id: ModelId;
  /** the product name, or the `project` as the device names itself */
  name: string;
  /** the outputs the product has, or null when the package does not know them */
  outputs: OutputTable | null;
}

/** The outputs `setAudioOutputHardwareMode` selects; which a product has, and their numbers, are in the tables below. */
export const OUTPUT_NAMES = ['optical', 'line-out', 'coax', 'bluetooth', 'headphones', 'hdmi', 'usb', 'speaker'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export function isOutputName(name: string): name is OutputName {
  return (OUTPUT_NAMES as readonly string[]).includes(name);
}

/** A product's outputs and the number that selects each. */
export type OutputTable = Readonly<Partial<Record<OutputName, number>>>;

/*
 * The numbers are pywiim's api/constants.py AUDIO_OUTPUT_MODE_* and WiiM's
 * library consts.py AudioOutputHwMode; which product has which output is
 * pywiim's player/properties.py available_output_modes. Some numbers mean
 * different outputs on different products (4, 7), so each product has its
 * own table and a name is only sent to a product known to have it.
 */
const MINI_OUTPUTS: OutputTable = { optical: 1, 'line-out': 2, bluetooth: 4 };
const PRO_OUTPUTS: OutputTable = { optical: 1, 'line-out': 2, coax: 3, bluetooth: 4 };
// 4 is the Ultra's headphone jack (AUDIO_OUTPUT_PHONE_JACK_MODE; pywiim wiim#86): its Bluetooth output shows only as `source` 1
const ULTRA_OUTPUTS: OutputTable = { optical: 1, 'line-out': 2, coax: 3, headphones: 4, usb: 8 };
// the WiiM library gives the Amps SPEAKER_OUT (7); pywiim gives them line out and USB out (8, wiim#160)
const AMP_OUTPUTS: OutputTable = { 'line-out': 2, speaker: 7, usb: 8 };
// on the Amp Ultra 7 is HDMI ARC out (pywiim wiim#122)
const AMP_ULTRA_OUTPUTS: OutputTable = { 'line-out': 2, hdmi: 7, usb: 8 };
// on the Sound Lite 7 is its speaker, and Bluetooth output shows as `source` 1 (pywiim wiim#270)
const SOUND_OUTPUTS: OutputTable = { speaker: 7 };

/** For a product whose outputs are not known: only the names whose numbers the API document gives every device (pywiim's quick reference: 1-4). */
export const DOCUMENTED_OUTPUTS: OutputTable = { optical: 1, 'line-out': 2, coax: 3, bluetooth: 4 };

/** uuid prefixes of WiiM devices (WiiM's `wiim` library, consts.py `wiimDeviceType`). */
const UUID_PREFIX: Readonly<Record<string, ModelInfo>> = {
  FF970016: { id: 'mini', name: 'WiiM Mini', outputs: MINI_OUTPUTS },
  FF98F09C: { id: 'pro', name: 'WiiM Pro', outputs: PRO_OUTPUTS },
  FF98F3C7: { id: 'pro', name: 'WiiM Pro', outputs: PRO_OUTPUTS },
  FF98FCDE: { id: 'pro-plus', name: 'WiiM Pro Plus', outputs: PRO_OUTPUTS },
  FF98F0BC: { id: 'pro-plus', name: 'WiiM Pro Plus', outputs: PRO_OUTPUTS },
  FF98F359: { id: 'amp', name: 'WiiM Amp', outputs: AMP_OUTPUTS },
  FF98FC04: { id: 'amp', name: 'WiiM Amp', outputs: AMP_OUTPUTS },
  FF98F2F7: { id: 'amp', name: 'WiiM Amp', outputs: AMP_OUTPUTS },
  FF49BC43: { id: 'amp', name: 'WiiM Amp', outputs: AMP_OUTPUTS },
  FF98FC37: { id: 'amp', name: 'WiiM Amp Pro', outputs: AMP_OUTPUTS },
  FF98F9ED: { id: 'amp', name: 'WiiM Amp Ultra', outputs: AMP_ULTRA_OUTPUTS },
  FF98F7F4: { id: 'ultra', name: 'WiiM Ultra', outputs: ULTRA_OUTPUTS },
};

/** `project` values (python-linkplay manufacturers.py PROJECTID_LOOKUP). */
const PROJECT: Readonly<Record<string, ModelInfo>> = {
  Muzo_Mini: { id: 'mini', name: 'WiiM Mini', outputs: MINI_OUTPUTS },
  WiiM_Pro_with_gc4a: { id: 'pro', name: 'WiiM Pro', outputs: PRO_OUTPUTS },
  WiiM_Pro_Plus: { id: 'pro-plus', name: 'WiiM Pro Plus', outputs: PRO_OUTPUTS },
  WiiM_Ultra: { id: 'ultra', name: 'WiiM Ultra', outputs: ULTRA_OUTPUTS },
  WiiM_AMP: { id: 'amp', name: 'WiiM Amp', outputs: AMP_OUTPUTS },
  WiiM_Amp_4layer: { id: 'amp', name: 'WiiM Amp', outputs: AMP_OUTPUTS },
  WiiM_Amp_Pro: { id: 'amp', name: 'WiiM Amp Pro', outputs: AMP_OUTPUTS },
  WiiM_Amp_Ultra: { id: 'amp', name: 'WiiM Amp Ultra', outputs: AMP_ULTRA_OUTPUTS },
  // pywiim tests (wiim#270); its other settings are not modelled, so they are sent and seen
  WiiM_Sound_Lite_V2: { id: 'unknown', name: 'WiiM Sound Lite', outputs: SOUND_OUTPUTS },
};

/** The model from getStatusEx's `project` and `uuid`; Arylic and Audio Pro by their project names. */
export function identifyModel(project: string | null, uuid: string | null): ModelInfo {
  if (project && PROJECT[project]) return PROJECT[project];
  const byUuid = uuid ? UUID_PREFIX[uuid.slice(0, 8).toUpperCase()] : undefined;
  if (byUuid) return byUuid;
  // python-linkplay manufacturers.py: Arylic projects are ARYLIC_*, UP2STREAM_* or RP00*; Audio Pro's AudioPro_*
  if (project && /^(ARYLIC|UP2STREAM|RP00|S10P)/i.test(project)) return { id: 'arylic', name: project, outputs: null };
  if (project && /^AudioPro/i.test(project)) return { id: 'audio-pro', name: project, outputs: null };
  return { id: 'unknown', name: project ?? 'unknown', outputs: null };
}

/** plm_support bits → input names (python-linkplay consts.py InputMode; the value is hex). */
const INPUT_BITS: ReadonlyArray<[number, string]> = [
  [2, 'line-in'],
  [4, 'bluetooth'],
  [8, 'usb'],
  [16, 'optical'],
  [64, 'coaxial'],
  [256, 'line-in2'],
  [1024, 'hdmi'],
  [32768, 'usb-dac'],
  [65536, 'phono'],
];

/** The inputs a device has: wifi always, then what plm_support says; null when the device does not say. */
export function inputsOf(plmSupport: unknown): string[] | null {
  if (typeof plmSupport !== 'string' || !/^(0x)?[0-9a-f]+$/i.test(plmSupport.trim())) return null;
  const bits = parseInt(plmSupport.trim().replace(/^0x/i, ''), 16);
  return ['wifi', ...INPUT_BITS.filter(([bit]) => (bits & bit) !== 0).map(([, name]) => name)];
}

/** Loop-number schemes (pywiim api/loop_mode.py): WiiM's has no shuffle + repeat one; Arylic's has it as 5. */
export type LoopScheme = 'wiim' | 'arylic';

/** Whole numbers of a dotted firmware version ("Linkplay.5.2.710195" → [5, 2, 710195]). */
function versionOf(firmware: string | null): number[] {
  return (firmware ?? '')
    .split('.')
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
}

/** WiiM Ultra from firmware 5.2 on numbers loop modes as Arylic does (pywiim api/loop_mode.py, pywiim issue 17). */
export function loopSchemeOf(model: ModelId, firmware: string | null): LoopScheme {
  if (model === 'arylic' || model === 'audio-pro') return 'arylic';
  if (model === 'ultra') {
    const [major = 0, minor = 0] = versionOf(firmware);
    if (major > 5 || (major === 5 && minor >= 2)) return 'arylic';
  }
  return 'wiim';
}

/** The settings some models lack; a model not in a setting's list is known to lack it. */
export type Setting = 'sub' | 'trigger' | 'output' | 'balance' | 'led' | 'eq-bands';

const HAVE: Readonly<Record<Setting, readonly ModelId[]>> = {
  // a subwoofer output and its low-pass filter (pywiim api/subwoofer.py: Ultra, Amp)
  sub: ['ultra', 'amp'],
  // the 12 V trigger output (WiiM Ultra)
  trigger: ['ultra'],
  output: ['mini', 'pro', 'pro-plus', 'ultra', 'amp'],
  balance: ['pro', 'pro-plus', 'ultra', 'amp', 'arylic'],
  led: ['mini', 'pro', 'pro-plus', 'ultra', 'amp', 'arylic', 'audio-pro'],
  'eq-bands': ['mini', 'pro', 'pro-plus', 'ultra', 'amp'],
};

const MODEL_NAMES: Readonly<Record<ModelId, string>> = {
  mini: 'WiiM Mini',
  pro: 'WiiM Pro',
  'pro-plus': 'WiiM Pro Plus',
  ultra: 'WiiM Ultra',
  amp: 'WiiM Amp',
  arylic: 'Arylic',
  'audio-pro': 'Audio Pro',
  unknown: 'unknown',
};

/** true: the model has it; false: known to lack it; undefined: an unrecognised model (send and see). */
export function hasSetting(model: ModelId, setting: Setting): boolean | undefined {
  if (model === 'unknown') return undefined;
  return HAVE[setting].includes(model);
}

/** "sub is a setting of WiiM Ultra, WiiM Amp; <name> does not have it". */
export function lacksSettingMessage(setting: Setting, deviceName: string): string {
  return `${setting} is a setting of ${HAVE[setting].map((m) => MODEL_NAMES[m]).join(', ')}; ${deviceName} does not have it`;
}
