// The Vite build of one widget: one UMD file per widget (a single build that
// exports two components does not load, FlowFuse/node-red-dashboard #1926),
// named after its node type. The dashboard loads resources/<type>.umd.js and
// takes the component from the global <type>; vue and vuex are the globals
// Vue and vuex it provides, and the CSS is injected by the JS.
import { resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';
import cssInjectedByJsPlugin from 'vite-plugin-css-injected-by-js';

const root = resolve(import.meta.dirname, '..');

export function widgetConfig(type) {
  return defineConfig({
    root,
    plugins: [vue(), cssInjectedByJsPlugin()],
    define: { 'process.env.NODE_ENV': JSON.stringify('production') },
    build: {
      lib: { entry: resolve(root, 'ui', `${type}.js`), name: type, formats: ['umd'], fileName: () => `${type}.umd.js` },
      outDir: resolve(root, 'resources'),
      emptyOutDir: false,
      rollupOptions: { external: ['vue', 'vuex'], output: { globals: { vue: 'Vue', vuex: 'vuex' } } },
    },
  });
}
