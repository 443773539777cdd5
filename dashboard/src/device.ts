/**
 * The device package's public types (its src/api.ts): the widgets use the
 * config nodes' device handle and nothing else of it. Types only, so that a
 * second copy of the package installed beside this one does no harm; errors
 * are read by `kind`.
 */
export type { DeviceHandle, DeviceUpdate, Health, SonoffDeviceState, WiimDeviceState } from 'node-red-contrib-wiim-sonoff';
