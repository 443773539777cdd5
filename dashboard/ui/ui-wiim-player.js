export { default as UIWiimPlayer } from './components/UIWiimPlayer.vue';
