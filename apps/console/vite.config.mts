import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import path from 'node:path';

const root = import.meta.dirname;

// Served by the gateway at /console/ (apps/gateway/src/console): every file is bundled here, nothing comes from
// another origin, and no script or style is inline (the gateway's Content-Security-Policy is default-src 'self').
export default defineConfig({
  root,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: path.resolve(root, '../../dist/apps/console'),
    emptyOutDir: true,
    // One inline-free entry: no modulepreload polyfill script, no data: URLs for small assets.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
    sourcemap: false,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
