// One widget per UMD file (FlowFuse/node-red-dashboard #1926), named after its node type:
// the dashboard loads resources/ui-sonoff-tile.umd.js and takes the component UISonoffTile from the global ui-sonoff-tile.
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';
import cssInjectedByJsPlugin from 'vite-plugin-css-injected-by-js';

const root = resolve(import.meta.dirname, '..');

export default defineConfig({
  root,
  plugins: [vue(), cssInjectedByJsPlugin()],
  define: { 'process.env.NODE_ENV': JSON.stringify('production') },
  build: {
    lib: {
      entry: resolve(root, 'ui', 'ui-sonoff-tile.js'),
      name: 'ui-sonoff-tile',
      formats: ['umd'],
      fileName: () => 'ui-sonoff-tile.umd.js',
    },
    outDir: resolve(root, 'resources'),
    emptyOutDir: false,
    rollupOptions: {
      // the dashboard provides these as globals
      external: ['vue', 'vuex'],
      output: { globals: { vue: 'Vue', vuex: 'vuex' } },
    },
  },
});
