export { default as UISonoffTile } from './components/UISonoffTile.vue';
