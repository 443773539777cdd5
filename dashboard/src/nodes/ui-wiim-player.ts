import type { Node, NodeAPI } from 'node-red';
import { bindWidget } from '../widget';
import { checkPlayerAction, playerExtra, playerView, type PlayerConfig, type PlayerExtra, type PlayerState } from '../player';

export = function (RED: NodeAPI): void {
  function UiWiimPlayer(this: Node, config: PlayerConfig) {
    RED.nodes.createNode(this, config);
    bindWidget<PlayerState, PlayerExtra>(RED, this, config, {
      type: 'ui-wiim-player',
      configType: 'wiim-config',
      subscribe: { meta: true },
      view: playerView(config),
      check: checkPlayerAction,
      extra: playerExtra,
    });
  }
  RED.nodes.registerType('ui-wiim-player', UiWiimPlayer);
};
