// One widget per UMD file (FlowFuse/node-red-dashboard #1926), named after its node type:
// the dashboard loads resources/ui-wiim-player.umd.js and takes the component UIWiimPlayer from the global ui-wiim-player.
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
      entry: resolve(root, 'ui', 'ui-wiim-player.js'),
      name: 'ui-wiim-player',
      formats: ['umd'],
      fileName: () => 'ui-wiim-player.umd.js',
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
