/**
 * Device profiles of the WiiM simulator: each answers as that model does on
 * real firmware, with the quirks public implementations record (the sources
 * are named at each flag). Written here from those sources, not imported from
 * src/wiim, so that a misreading there cannot pass on both sides.
 */

export const WIIM_PROFILES = ['mini', 'pro', 'pro-plus', 'ultra', 'amp', 'arylic', 'audio-pro'] as const;
export type WiimProfileName = (typeof WIIM_PROFILES)[number];

/** Settings a model may have; a command of a setting it lacks answers `unknown command`. */
export type SimSetting = 'output' | 'balance' | 'led' | 'buttons' | 'sub' | 'trigger' | 'eq-bands';

export interface WiimProfile {
  name: WiimProfileName;
  /** getStatusEx `project` */
  project: string;
  /** getStatusEx `uuid` (its first 8 hex digits name WiiM models: WiiM's `wiim` library, consts.py) */
  uuid: string;
  firmware: string;
  /** hex bit mask of inputs (python-linkplay consts.py InputMode) */
  plmSupport: string;
  /** loop numbers the device takes: WiiM's 0..4, Arylic's 0..5 (pywiim api/loop_mode.py) */
  loopScheme: 'wiim' | 'arylic';
  settings: readonly SimSetting[];
  /** outputs by setAudioOutputHardwareMode number (pywiim api/constants.py, player/properties.py) */
  outputs: readonly number[];
  /** the number that turns Bluetooth output on, where one does (4, except on the Ultra, whose 4 is its headphone jack: pywiim wiim#86) */
  bluetoothOutput?: number;
  /** sound-card mode names by output number, as getActiveSoundCardOutputMode and commonevent give them (WiiM library consts.py AudioOutputHwMode; others AUDIO_OTHER_OUT_MODE) */
  soundCardModes: Readonly<Record<number, string>>;
  /** the firmware has getActiveSoundCardOutputMode */
  activeSoundCardGetter?: boolean;
  /** EQLoad, EQOff, switchmode, setAlarmClock and timeSync answer an empty body (pywiim api/base.py) */
  emptyAcks?: boolean;
  /** EQOff answers `unknown command` (Arylic) */
  eqOffUnknown?: boolean;
  /** EQGetStat answers `unknown command`; EQGetBand carries EQStat (WiiM Pro 4.8) */
  eqGetStatUnknown?: boolean;
  /** EQGetList wraps the array in an object */
  eqListWrapped?: boolean;
  /** user presets saved in the app, listed in lower case (WiiM Pro 4.8) */
  userEqPresets?: readonly string[];
  /** wired Ethernet: essid "", RSSI "0", netstat "0" while online (WiiM Pro Plus) */
  wired?: boolean;
  /** idle: status "none" and mode -1 */
  idleNone?: boolean;
  /** getSlaveList's `slaves` is the list, not a count */
  slavesArray?: boolean;
  /** follower entries with capitalised keys (a WF-100 on LinkPlay 4.2) */
  capitalFollowers?: boolean;
  /** a URL played through the HTTP API reports mode 20 (python-linkplay PlayingMode.API) */
  apiMode?: boolean;
  /** USB playback reports mode 10 with vendor "UDiskLocal", not mode 11 (WiiM Ultra on 5.2, pywiim issue 21) */
  usbAsNetwork?: boolean;
  /** curpos/totlen in µs */
  microseconds?: boolean;
  /** titles as plain text, not hex */
  plainTitles?: boolean;
  /** the LED through the MCU pass-through (MCU+PAS+RAKOIT:LED) */
  mcuLed?: boolean;
  /** HTTPS only with a client certificate (Audio Pro on 4443, pywiim api/ssl.py) */
  mutualTls?: boolean;
}

const WIIM_SETTINGS: readonly SimSetting[] = ['output', 'led', 'buttons', 'eq-bands'];

/** optical, line out and coax by their sound-card names (WiiM library consts.py AudioOutputHwMode) */
const DIGITAL_AND_LINE = { 1: 'AUDIO_OUTPUT_SPDIF_MODE', 2: 'AUDIO_OUTPUT_AUX_MODE', 3: 'AUDIO_OUTPUT_COAX_MODE' } as const;

export const PROFILES: Readonly<Record<WiimProfileName, WiimProfile>> = {
  mini: {
    name: 'mini',
    project: 'Muzo_Mini',
    uuid: 'FF970016A6FE22C1660AB4D8',
    firmware: 'Linkplay.4.6.425351',
    plmSupport: '0x6',
    loopScheme: 'wiim',
    settings: WIIM_SETTINGS,
    soundCardModes: DIGITAL_AND_LINE,
    outputs: [1, 2, 4],
    bluetoothOutput: 4,
  },
  pro: {
    name: 'pro',
    project: 'WiiM_Pro_with_gc4a',
    uuid: 'FF98F09C7C1F5B2E3A6D4C11',
    firmware: 'Linkplay.4.8.618971',
    plmSupport: '0x56',
    loopScheme: 'wiim',
    settings: [...WIIM_SETTINGS, 'balance'],
    soundCardModes: DIGITAL_AND_LINE,
    outputs: [1, 2, 3, 4],
    bluetoothOutput: 4,
    eqGetStatUnknown: true,
    userEqPresets: ['bass up treble down'],
    idleNone: true,
  },
  'pro-plus': {
    name: 'pro-plus',
    project: 'WiiM_Pro_Plus',
    uuid: 'FF98FCDE11223344556677AA',
    firmware: 'Linkplay.4.8.731953',
    plmSupport: '0x56',
    loopScheme: 'wiim',
    settings: [...WIIM_SETTINGS, 'balance'],
    soundCardModes: DIGITAL_AND_LINE,
    outputs: [1, 2, 3, 4],
    bluetoothOutput: 4,
    wired: true,
    slavesArray: true,
    eqListWrapped: true,
  },
  ultra: {
    name: 'ultra',
    project: 'WiiM_Ultra',
    uuid: 'FF98F7F4AABBCCDDEEFF0011',
    firmware: 'Linkplay.5.2.712345',
    plmSupport: '0x10456',
    loopScheme: 'arylic',
    settings: [...WIIM_SETTINGS, 'balance', 'sub', 'trigger'],
    soundCardModes: { ...DIGITAL_AND_LINE, 4: 'AUDIO_OUTPUT_PHONE_JACK_MODE' },
    outputs: [1, 2, 3, 4, 8],
    usbAsNetwork: true,
  },
  amp: {
    name: 'amp',
    project: 'WiiM_AMP',
    uuid: 'FF98F35912345678ABCDEF01',
    firmware: 'Linkplay.5.0.690000',
    plmSupport: '0x416',
    loopScheme: 'wiim',
    settings: [...WIIM_SETTINGS, 'balance', 'sub'],
    outputs: [2, 7, 8],
    soundCardModes: { 2: 'AUDIO_OUTPUT_AUX_MODE', 7: 'AUDIO_OUTPUT_SPEAKER_MODE' },
    activeSoundCardGetter: true,
  },
  arylic: {
    name: 'arylic',
    project: 'UP2STREAM_AMP_V4',
    uuid: '00000000ABCDEF0123456789',
    firmware: '4.6.415145',
    plmSupport: '0x1e',
    loopScheme: 'arylic',
    settings: ['led', 'buttons', 'balance'],
    soundCardModes: {},
    outputs: [],
    emptyAcks: true,
    eqOffUnknown: true,
    capitalFollowers: true,
    apiMode: true,
    microseconds: true,
    plainTitles: true,
    mcuLed: true,
  },
  'audio-pro': {
    name: 'audio-pro',
    project: 'AudioPro_C10',
    uuid: '12345678AABBCCDDEEFF0011',
    firmware: '4.2.8020',
    plmSupport: '0x6',
    loopScheme: 'arylic',
    settings: ['led', 'buttons'],
    soundCardModes: {},
    outputs: [],
    mutualTls: true,
  },
};

export function isWiimProfile(name: unknown): name is WiimProfileName {
  return typeof name === 'string' && (WIIM_PROFILES as readonly string[]).includes(name);
}
