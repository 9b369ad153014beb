import { defineConfig } from 'vite';

// Dev/preview proxy target: a running `souk serve` (SOUK_URL=http://127.0.0.1:PORT).
const target = process.env.SOUK_URL || 'http://127.0.0.1:7790';
const proxy = { '/v1': target, '/health': target, '/metrics': target };

export default defineConfig({
  base: '/',
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true, chunkSizeWarningLimit: 600 },
  server: { proxy },
  preview: { proxy },
});
