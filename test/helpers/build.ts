/**
 * The build the tests run: spawned CLI processes (bin/inflow.js → dist/cli/main.js) and the reader thread
 * (pipeline/record-source.ts loads dist/pipeline/reader-thread.js when run from sources) execute dist/, not the
 * TypeScript that ts-jest compiles. jest's globalSetup therefore builds dist/ from the current sources before any
 * test runs, and test/tests-run-current-sources.test.ts checks that it did.
 *
 * `tsc -b --incremental` (build mode): when nothing changed it only compares time stamps (well under a second);
 * a changed source re-checks and re-emits what it affects; a missing output (dist/ deleted in part) is rebuilt.
 * Its state is dist/tsconfig.build.tsbuildinfo. Outputs whose source is gone (a renamed or deleted module) are
 * removed, so nothing can load a module the sources no longer have.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');
export const BUILD_CONFIG = path.join(ROOT, 'tsconfig.build.json');

/** buildDist brings dist/ up to date with the sources; throws with the compiler's output when the build fails. */
export function buildDist(): { ms: number; output: string } {
  const t0 = Date.now();
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const r = spawnSync(process.execPath, [tsc, '-b', BUILD_CONFIG, '--incremental'], { cwd: ROOT, encoding: 'utf8' });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.error || r.status !== 0) {
    throw new Error(
      `The tests did not run: building dist/ from the current sources failed (tsc -b tsconfig.build.json, ` +
        `exit ${r.status ?? r.error?.message}). CLI processes and the reader thread run dist/, so the tests need ` +
        `a build of exactly these sources.\n${output}`,
    );
  }
  pruneOrphans();
  return { ms: Date.now() - t0, output };
}

/** sourceOf names the TypeScript source a dist/ file comes from (x.js, x.js.map, x.d.ts → x.ts). */
export function sourceOf(distFile: string): string | null {
  const rel = path.relative(DIST, distFile);
  const m = /^(.*)\.(js|js\.map|d\.ts|d\.ts\.map)$/.exec(rel);
  return m ? path.join(ROOT, m[1] + '.ts') : null;
}

/** distFiles lists dist/'s files (recursively). */
export function distFiles(dir = DIST): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? distFiles(p) : [p];
  });
}

/** pruneOrphans removes compiled files whose source no longer exists (tsc never deletes an output). */
function pruneOrphans(): void {
  for (const f of distFiles()) {
    const src = sourceOf(f);
    if (src && !fs.existsSync(src)) fs.rmSync(f);
  }
}
