import type { Node, NodeAPI } from 'node-red';
import { historyFor, releaseHistory } from '../history';
import { bindWidget, isOnline } from '../widget';
import { checkTileAction, outletOf, SERIES, tileView, type TileConfig, type TileState } from '../tile';

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
    bindWidget<TileState, undefined>(RED, this, config, {
      type: 'ui-sonoff-tile',
      configType: 'sonoff-config',
      view: tileView(outlet, history, lanMode),
      check: checkTileAction(outlet),
      observe: (u) => {
        // a changed reading goes into the device's history; with two tiles on one device each sample counts twice,
        // which leaves a bucket's mean as it is
        if (isOnline(u) && u.state)
          for (const name of SERIES) {
            const v = u.state[name];
            if (typeof v === 'number' && u.changed.includes(name)) history.add(name, v, now());
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
