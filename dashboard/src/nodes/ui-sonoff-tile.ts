import type { Node, NodeAPI } from 'node-red';
import { historyFor, releaseHistory } from '../history';
import { bindWidget } from '../widget';
import { checkTileAction, outletOf, seriesAttachment, SERIES, tileView, type TileConfig, type TileState } from '../tile';

export = function (RED: NodeAPI): void {
  function UiSonoffTile(this: Node, config: TileConfig) {
    RED.nodes.createNode(this, config);
    const outlet = outletOf(config);
    const deviceId = config.device ?? '';
    const history = historyFor(deviceId, this.id);
    const clock = (RED.settings as { wiimSonoffClock?: { now(): number } }).wiimSonoffClock;
    const now = () => (clock ? clock.now() : Date.now());
    // the devicekey is a credential of the config node: a key makes the LAN mode encrypted
    const lanMode = () => ((RED.nodes.getCredentials(deviceId) as { devicekey?: string } | undefined)?.devicekey ? 'encrypted' : 'diy');
    const seen = new Set<string>();
    bindWidget<TileState, undefined>(RED, this, config, {
      type: 'ui-sonoff-tile',
      configType: 'sonoff-config',
      view: tileView(outlet, lanMode),
      attach: seriesAttachment(history),
      check: checkTileAction(outlet),
      observe: (u) => {
        // a reading goes into the history when it changes, and the first time this tile sees it (the handle's
        // replay names no field; the state may be heard before the device counts as online)
        for (const name of SERIES) {
          const v = u.state?.[name];
          if (typeof v !== 'number' || (seen.has(name) && !u.changed.includes(name))) continue;
          seen.add(name);
          history.add(name, v, now());
        }
      },
    });
    this.on('close', (removed: boolean, done: () => void) => {
      if (removed) releaseHistory(deviceId, this.id);
      done();
    });
  }
  RED.nodes.registerType('ui-sonoff-tile', UiSonoffTile);
};
