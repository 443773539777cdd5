/** sonoff-sensor: a meter's or sensor's readings, when they change (push or poll), or when asked. */

import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import type { SonoffSession, SonoffStateEvent, StateSource } from '../sessions/sonoff-session';
import { READING_NAMES, readingsOfState, type Readings } from '../sonoff/state';
import type { SonoffHandle } from '../contract/sonoff-contract';
import { deviceNode } from './device-node';

interface SonoffSensorDef extends NodeDef {
  device?: string;
  /** `all` (default) or one of READING_NAMES */
  reading?: string;
}

const UNITS: Record<keyof Readings, string> = {
  power: 'W',
  voltage: 'V',
  current: 'A',
  energyToday: 'kWh',
  energyMonth: 'kWh',
  temperature: '°C',
  humidity: '%',
};

/** The state fields that are readings: an event naming one brings new readings. */
const READING_FIELDS: ReadonlySet<string> = new Set(READING_NAMES);

export = function (RED: NodeAPI) {
  function SonoffSensor(this: Node, def: SonoffSensorDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const node = this;
    const one = READING_NAMES.find((k) => k === def.reading);
    let last: string | undefined;

    /** The payload: every reading the device has, or the one picked; undefined when it has none of it. */
    const payloadOf = (r: Readings): Readings | number | undefined => (one ? r[one] : Object.keys(r).length > 0 ? r : undefined);
    const meta = (session: SonoffSession, source: StateSource, seq: number | undefined) => ({
      deviceid: session.reportedDeviceid,
      kind: session.kind,
      source,
      ...(seq === undefined ? {} : { seq }),
    });

    const self = deviceNode<SonoffSession, SonoffStateEvent, SonoffHandle>(RED, node, {
      type: 'sonoff-sensor',
      configType: 'sonoff-config',
      device: def.device,
      subscribe: true,
      idle(session, health): NodeStatus | undefined {
        const r = session.readings;
        const shown = (one ? [one] : READING_NAMES).filter((k) => r[k] !== undefined).slice(0, 3);
        if (health === 'offline' || shown.length === 0) return undefined;
        return { fill: 'green', shape: 'dot', text: shown.map((k) => `${r[k]} ${UNITS[k]}`).join(', ') };
      },
      onState(event, session) {
        if (!event.changed.some((f) => READING_FIELDS.has(f))) return;
        const payload = payloadOf(readingsOfState(event.state));
        const key = JSON.stringify(payload);
        // with one reading picked, the others' changes are not this node's
        if (payload === undefined || key === last) return;
        last = key;
        node.send({ topic: self.config?.deviceName, payload, sonoff: meta(session, event.source, session.seqNumber) });
      },
      async input(msg, device, session) {
        const result = await device.run('readings', undefined, { requester: node });
        msg.payload = result.command === 'readings' ? payloadOf(result.payload) : undefined;
        msg.sonoff = meta(session, 'refresh', session.seqNumber);
      },
    });
  }
  RED.nodes.registerType('sonoff-sensor', SonoffSensor);
};
