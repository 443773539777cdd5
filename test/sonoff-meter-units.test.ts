import assert from 'node:assert/strict';
import { MAINS_VOLTS_MAX, MAINS_VOLTS_MIN, kindOf, meterUnitsOf, normaliseState, readingsOf } from '../src/sonoff/state';
import { parseTxtState } from '../src/sonoff/txt';

/**
 * A meter's units follow its family (SonoffLAN core/devices.py: uiid 32
 * POWR2/S31 read as sent, uiid 190 POWR3/POWR316/POWR320D `XSensor100` in
 * hundredths), never the JSON type. Each reply below is quoted from the
 * public source named beside it; where the source is a log, it printed
 * Python's dict, and the same keys and values are written here as JSON.
 */
describe('sonoff meter units by device family (replies quoted from public sources)', () => {
  /** A POWR2's push in LAN mode (SonoffLAN issue 941, 2022-08-05 00:27:00). */
  const powr2Push = {
    alarmVValue: [-1, -1],
    alarmCValue: [-1, -1],
    alarmPValue: [-1, -1],
    switch: 'off',
    startup: 'off',
    pulse: 'off',
    pulseWidth: 500,
    sledOnline: 'off',
    power: 0,
    voltage: 247.1,
    current: 0,
  };

  it('POWR2 in LAN mode sends plain numbers with a fraction: 247.1 is volts (SonoffLAN issue 941)', () => {
    assert.equal(meterUnitsOf(powr2Push), 'powr2');
    const state = normaliseState(powr2Push);
    assert.deepEqual([state.power, state.voltage, state.current], [0, 247.1, 0]);
    assert.equal(state.meterUnits, 'powr2');
    assert.equal(state.kind, 'meter');
    // the next push of the same log
    assert.equal(readingsOf({ ...powr2Push, voltage: 247.56 }).voltage, 247.56);
  });

  it('POWR2 on a 208 V supply, same form (SonoffLAN issue 125)', () => {
    // the log line of 2020-05-31 16:52:42 holds the same keys and values but for these two
    assert.deepEqual(readingsOf({ ...powr2Push, sledOnline: 'on', voltage: 208.41 }), { power: 0, voltage: 208.41, current: 0 });
  });

  it('POWR2 through the cloud sends strings, read the same way (SonoffLAN tests/test_entity.py test_sonoff_pow)', () => {
    const params = {
      hundredDaysKwh: 'get',
      startTime: '2020-05-28T13:19:55.409Z',
      endTime: '2020-05-28T18:24:24.429Z',
      timeZone: 2,
      uiActive: 60,
      oneKwh: 'stop',
      current: '1.23',
      voltage: '234.20',
      power: '12.34',
      pulseWidth: 500,
      pulse: 'off',
      startup: 'on',
      switch: 'on',
      alarmPValue: [-1, -1],
      alarmCValue: [-1, -1],
      alarmVValue: [-1, -1],
      alarmType: 'pcv',
      init: 1,
      rssi: -72,
      fwVersion: '3.4.0',
      sledOnline: 'on',
      version: 8,
    };
    // SonoffLAN asserts power 12.34 and current 1.23
    assert.deepEqual(readingsOf(params), { power: 12.34, voltage: 234.2, current: 1.23 });
  });

  it('S31 (uiid 32) in LAN mode: TXT type enhanced_plug and plain numbers (mattsaxon/sonoff-lan-mode-homeassistant issue 13)', () => {
    // the record came encrypted; the issue logs its decrypted data, which stands here as a plain record's data1
    const decrypted =
      '{"alarmVValue":[-1,-1],"alarmCValue":[-1,-1],"alarmPValue":[-1,-1],"switch":"off","startup":"stay","pulse":"off","pulseWidth":500,"sledOnline":"on","power":0,"voltage":118.72,"current":0}';
    const txt = parseTxtState({ txtvers: '1', id: '1000384980', type: 'enhanced_plug', apivers: '1', seq: '76', data1: decrypted });
    assert.deepEqual([txt.state?.power, txt.state?.voltage, txt.state?.current], [0, 118.72, 0]);
    assert.equal(txt.state?.meterUnits, 'powr2');
  });

  it('S31 through the cloud: decimal strings with the alarm limits (SonoffLAN issues 1459 and 1200)', () => {
    const alarms = { alarmType: 'pcv', alarmVValue: [-1, -1], alarmCValue: [-1, -1], alarmPValue: [-1, -1] };
    assert.deepEqual(readingsOf({ ...alarms, switch: 'on', startup: 'stay', power: '159.77', voltage: '123.00', current: '1.43' }), {
      power: 159.77,
      voltage: 123,
      current: 1.43,
    });
    assert.deepEqual(readingsOf({ ...alarms, switch: 'off', startup: 'on', power: '0.00', voltage: '121.07', current: '0.00' }), {
      power: 0,
      voltage: 121.07,
      current: 0,
    });
  });

  it('POWR320D (POWR3 family, uiid 190) in LAN mode: hundredths beside switches, with the day and month energy (SonoffLAN issue 1114)', () => {
    const data = {
      switches: [{ switch: 'on', outlet: 0 }],
      configure: [{ startup: 'stay', outlet: 0 }],
      pulses: [{ pulse: 'off', switch: 'off', outlet: 0, width: 500 }],
      fwVersion: '1.0.7',
      rssi: -21,
      current: 65,
      voltage: 23183,
      power: 9507,
      dayKwh: 182,
      monthKwh: 4079,
    };
    assert.equal(meterUnitsOf(data), 'powr3');
    const state = normaliseState(data);
    assert.deepEqual(
      { power: state.power, voltage: state.voltage, current: state.current, today: state.energyToday, month: state.energyMonth },
      { power: 95.07, voltage: 231.83, current: 0.65, today: 1.82, month: 40.79 },
    );
    assert.equal(state.kind, 'meter');
    assert.equal(state.family, 'multi');
  });

  it('POWR3 (uiid 190) switched off: zeros, and dayKwh 7 is 0.07 kWh (SonoffLAN tests/test_entity.py test_powr3)', () => {
    const params = {
      version: 8,
      demNextFetchTime: 1678057200000,
      fwVersion: '1.0.7',
      current: 0,
      voltage: 0,
      power: 0,
      uiActive: 60,
      timeZone: 0,
      dayKwh: 7,
      monthKwh: 7,
      switches: [{ switch: 'off', outlet: 0 }],
      configure: [{ startup: 'off', outlet: 0 }],
      pulses: [{ pulse: 'off', switch: 'off', outlet: 0, width: 500 }],
      rssi: -57,
      threshold: {
        actPow: { min: 10, max: 400000 },
        voltage: { min: 18500, max: 26400 },
        current: { min: 10, max: 1600 },
      },
      getHoursKwh: { start: 4464, end: 4535 },
      operSide: 1,
    };
    // SonoffLAN asserts the day's energy 0.07, and 10.51 for dayKwh 1051
    assert.deepEqual(readingsOf(params), { power: 0, voltage: 0, current: 0, energyToday: 0.07, energyMonth: 0.07 });
    assert.equal(readingsOf({ dayKwh: 1051 }).energyToday, 10.51);
  });

  it('TH16 (uiid 15): strings in °C and %RH, and no meter (SonoffLAN tests/test_entity.py test_sonoff_th)', () => {
    const params = {
      currentHumidity: '42',
      currentTemperature: '14.6',
      deviceType: 'normal',
      fwVersion: '3.4.0',
      init: 1,
      mainSwitch: 'off',
      pulse: 'off',
      pulseWidth: 500,
      rssi: -43,
      sensorType: 'AM2301',
      sledOnline: 'on',
      startup: 'stay',
      switch: 'off',
      targets: [
        { reaction: { switch: 'off' }, targetHigh: '22' },
        { reaction: { switch: 'on' }, targetLow: '22' },
      ],
      timers: [],
      version: 8,
    };
    const state = normaliseState(params);
    assert.deepEqual([state.temperature, state.humidity], [14.6, 42]);
    assert.equal(state.kind, 'th');
    assert.equal(state.meterUnits, undefined);
  });

  it('THR316D (uiid 181) the same way (SonoffLAN tests/test_entity.py test_thr316d_auto_mode)', () => {
    const params = {
      currentTemperature: '22.5',
      currentHumidity: '55',
      deviceType: 'normal',
      switch: 'off',
      mainSwitch: 'off',
      autoControlEnabled: 1,
      sledOnline: 'on',
      startup: 'stay',
    };
    assert.deepEqual(readingsOf(params), { temperature: 22.5, humidity: 55 });
  });

  it('TH in LAN mode without its probe: humidity 0 and temperature -3052.94 are left out (SonoffLAN issue 125)', () => {
    const data = {
      mainSwitch: 'off',
      deviceType: 'normal',
      targets: [
        { targetHigh: 60, reaction: { switch: 'off' } },
        { targetLow: 50, reaction: { switch: 'on' } },
      ],
      switch: 'off',
      startup: 'off',
      pulse: 'off',
      pulseWidth: 500,
      sledOnline: 'on',
      sensorType: 'DS18B20',
      humidity: 0,
      temperature: -3052.94,
    };
    assert.deepEqual(readingsOf(data), {});
    assert.equal(kindOf(data), 'th');
  });
});

describe('sonoff meter units: where the data does not show the family', () => {
  it('the model setting names the family, and wins over what the data shows', () => {
    // the POWR320D reading of issue 1114 without its energy keys: nothing in it tells the family
    const bare = { switches: [{ switch: 'on', outlet: 0 }], current: 65, voltage: 23183, power: 9507 };
    const read = normaliseState(bare, { set: 'powr3' });
    assert.deepEqual([read.power, read.voltage, read.current], [95.07, 231.83, 0.65]);
    assert.deepEqual(readingsOf({ power: 1500, voltage: 230, current: 7 }, 'powr3'), { power: 15, voltage: 2.3, current: 0.07 });
    const powr2 = normaliseState({ alarmVValue: [-1, -1], power: 1500, voltage: 230, current: 7 }, { set: 'powr3' });
    assert.deepEqual([powr2.power, powr2.meterUnits], [15, 'powr3']);
  });

  it('a TXT type enhanced_plug makes a POWR2 of data that says nothing, and what was known before carries on', () => {
    const push = { data1: '{"switch":"on","power":1500}' };
    assert.equal(parseTxtState({ ...push, type: 'plug' }).state?.power, undefined);
    assert.equal(parseTxtState({ ...push, type: 'enhanced_plug' }).state?.power, 1500);
    assert.equal(parseTxtState({ ...push, type: 'plug' }, undefined, { known: 'powr3' }).state?.power, 15);
    assert.equal(normaliseState({ switch: 'on', power: 1500 }, { known: 'powr2' }).power, 1500);
  });

  it('unknown family: a number with a fraction is never hundredths, whatever its JSON type', () => {
    assert.deepEqual(readingsOf({ power: 12.5, voltage: 230.1, current: 0.05 }), { power: 12.5, voltage: 230.1, current: 0.05 });
    assert.deepEqual(readingsOf({ power: '12.50', voltage: '230.10', current: '0.05' }), { power: 12.5, voltage: 230.1, current: 0.05 });
  });

  it('unknown family: a whole voltage tells the scale of the whole numbers beside it', () => {
    assert.deepEqual(readingsOf({ power: 1250, voltage: 23010, current: 5 }), { power: 12.5, voltage: 230.1, current: 0.05 });
    assert.deepEqual(readingsOf({ power: 1250, voltage: 230, current: 5 }), { power: 1250, voltage: 230, current: 5 });
    assert.deepEqual(readingsOf({ power: 1250, voltage: 230.5, current: 5 }), { power: 1250, voltage: 230.5, current: 5 });
  });

  it('unknown family: a voltage outside any mains range is not shown, and whole readings then have no scale', () => {
    for (const voltage of [0, 5, 2.47, MAINS_VOLTS_MAX + 1, 2000, 100_000]) {
      assert.equal(readingsOf({ voltage }).voltage, undefined, String(voltage));
    }
    assert.equal(readingsOf({ voltage: MAINS_VOLTS_MIN }).voltage, MAINS_VOLTS_MIN);
    assert.equal(readingsOf({ voltage: MAINS_VOLTS_MAX * 100 }).voltage, MAINS_VOLTS_MAX);
    assert.deepEqual(readingsOf({ power: 1250, voltage: 0, current: 0 }), { current: 0 });
    assert.deepEqual(readingsOf({ power: 12.5, voltage: 5 }), { power: 12.5 });
  });
});
