import type { WiimDeviceState } from '../api';
import type { WiimSession } from '../sessions/wiim-session';
import type { CommandResult } from '../wiim/client';
import { Device, type FamilyContract } from './handle';
import { commandRequest } from './wiim-values';

/** wiim-command's message contract and wiim-status's state, as the WiiM device handle offers them. */
export const wiimContract: FamilyContract<WiimSession, WiimDeviceState, CommandResult> = {
  family: 'wiim',
  stateOf(session) {
    const state = session.state;
    const presets = session.presetCount;
    return state && presets !== undefined ? { ...state, presets } : state;
  },
  run: (session, command, value) => session.command(commandRequest(command, value)),
  payloadOf: (result) => result.payload,
};

export type WiimHandle = Device<WiimSession, WiimDeviceState, CommandResult>;
