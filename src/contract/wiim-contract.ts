import type { WiimDeviceState } from '../api';
import type { WiimSession } from '../sessions/wiim-session';
import type { CommandResult } from '../wiim/client';
import { Device, type FamilyContract } from './handle';
import { commandRequest } from './wiim-values';
import { noteStarted } from '../sessions/wiim-announce';

/** wiim-command's message contract and wiim-status's state, as the WiiM device handle offers them. */
export const wiimContract: FamilyContract<WiimSession, WiimDeviceState, CommandResult> = {
  family: 'wiim',
  stateOf(session) {
    const state = session.state;
    const presets = session.presetCount;
    return state && presets !== undefined ? { ...state, presets } : state;
  },
  run: async (session, command, value) => {
    const result = await session.command(commandRequest(command, value));
    // what plays now, for an announcement's restore
    noteStarted(session, result.command, result.applied);
    return result;
  },
  payloadOf: (result) => result.payload,
};

export type WiimHandle = Device<WiimSession, WiimDeviceState, CommandResult>;
