// Bundles the dashboard (with uPlot) into the build output next to the other page assets.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/dashboard/dashboard.js'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  outdir: 'dist/src/http/assets',
  entryNames: 'dashboard',
  logLevel: 'warning',
});
