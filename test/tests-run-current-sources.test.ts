/**
 * The tests test the code under test: a CLI process spawned from bin/inflow.js and the reader thread run dist/, and
 * dist/ is what the current sources compile to (jest's globalSetup builds it, test/helpers/build.ts). Were dist/
 * stale (a source edited after the last build, or a module removed from the sources), these tests fail and name the
 * files.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { BUILD_CONFIG, DIST, ROOT, distFiles, sourceOf } from './helpers/build';
import { FileReader } from '../pipeline/file-reader';
import { readFile } from '../pipeline/read-file';
import { newBuffer, unpackBatch, type RecordBatch } from '../pipeline/batcher';

// Every reader thread this file starts is recorded: the script it runs must be one that was checked below.
const mockThreadScripts: string[] = [];
jest.mock('node:worker_threads', () => {
  const actual = jest.requireActual('node:worker_threads');
  class RecordedWorker extends actual.Worker {
    constructor(script: string, options?: object) {
      mockThreadScripts.push(String(script));
      super(script, options);
    }
  }
  return { ...actual, Worker: RecordedWorker };
});

/** The build's compiler options and sources, as tsc -p tsconfig.build.json sees them. */
function buildConfig(): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    BUILD_CONFIG,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error('cannot read tsconfig.build.json');
  return parsed;
}

const distOf = (source: string) => path.join(DIST, path.relative(ROOT, source)).replace(/\.ts$/, '.js');

/** Sources whose compiled module in dist/ is missing or differs from what the source compiles to now. */
function staleModules(): { checked: string[]; stale: string[]; current: Set<string> } {
  const cfg = buildConfig();
  const checked: string[] = [];
  const stale: string[] = [];
  const current = new Set<string>();
  for (const source of cfg.fileNames.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))) {
    const js = distOf(source);
    checked.push(js);
    // With isolatedModules each file compiles on its own: transpileModule gives exactly what tsc emits.
    const expected = ts.transpileModule(fs.readFileSync(source, 'utf8'), { compilerOptions: cfg.options, fileName: source }).outputText;
    if (!fs.existsSync(js)) stale.push(`${path.relative(ROOT, js)}: missing`);
    else if (fs.readFileSync(js, 'utf8') !== expected)
      stale.push(`${path.relative(ROOT, js)}: not what ${path.relative(ROOT, source)} compiles to`);
    else current.add(js);
  }
  return { checked, stale, current };
}

let checkedOnce: ReturnType<typeof staleModules> | null = null;
/** The dist/ modules found to be what their sources compile to (checked once per run of this file). */
function verified(): Set<string> {
  checkedOnce ??= staleModules();
  return checkedOnce.current;
}

describe('dist/, which spawned CLI processes and the reader thread run', () => {
  it('holds, for every source of the build, exactly what that source compiles to now', () => {
    expect(buildConfig().options.isolatedModules).toBe(true); // the premise of the comparison
    checkedOnce = staleModules();
    const { checked, stale } = checkedOnce;
    expect(checked.length).toBeGreaterThan(50);
    expect(checked).toEqual(expect.arrayContaining([path.join(DIST, 'pipeline', 'reader-thread.js'), path.join(DIST, 'cli', 'main.js')]));
    expect(stale).toEqual([]);
  });

  it('holds no module whose source is gone', () => {
    const orphans = distFiles().filter((f) => {
      const src = sourceOf(f);
      return src !== null && !fs.existsSync(src);
    });
    expect(orphans.map((f) => path.relative(ROOT, f))).toEqual([]);
  });
});

describe('a CLI process spawned from bin/inflow.js', () => {
  it('loads only bin/inflow.js and modules of dist/ checked above, and answers as the sources say', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-current-'));
    try {
      const hook = path.join(tmp, 'loaded.js');
      const list = path.join(tmp, 'loaded.json');
      fs.writeFileSync(
        hook,
        `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(Object.keys(require.cache))));\n`,
      );
      const r = spawnSync(process.execPath, ['-r', hook, path.join(ROOT, 'bin', 'inflow.js'), '--version'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
      const ours = (JSON.parse(fs.readFileSync(list, 'utf8')) as string[]).filter(
        (f) => f.startsWith(ROOT + path.sep) && !f.startsWith(path.join(ROOT, 'node_modules') + path.sep) && f !== hook,
      );
      expect(ours).toContain(path.join(ROOT, 'bin', 'inflow.js'));
      expect(ours).toContain(path.join(DIST, 'cli', 'main.js'));
      const unchecked = ours.filter(
        (f) => f !== path.join(ROOT, 'bin', 'inflow.js') && f !== path.join(ROOT, 'package.json') && !verified().has(f),
      );
      expect(unchecked).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('the reader thread', () => {
  const SENDER = '2123456692';
  const TODAY = '2026-11-26';

  const request = { allowedSenders: [SENDER], maxRecords: 1000, today: TODAY, resumeAfter: 0, batchSize: 3 };
  /** A batch as plain values (its buffer is reused once the next batch is asked for). */
  const plain = (b: RecordBatch) => ({
    readings: [...unpackBatch(b)],
    others: structuredClone(b.others),
    lastLine: b.lastLine,
    sender: b.sender,
  });

  /** A file's verdict and every batch, from a reader thread. */
  async function readThreaded(file: string) {
    const spoolPath = path.join(os.tmpdir(), `inflow-current-spool-${process.pid}`);
    const reader = new FileReader({ ...request, path: file, ahead: 2, spoolPath });
    const batches: unknown[] = [];
    try {
      for (let m = await reader.next(); m.kind === 'batch'; m = await reader.next()) {
        batches.push(plain(m.batch));
        reader.stored(m.batch);
      }
      return { scan: await reader.verdict, batches };
    } finally {
      await reader.close();
    }
  }

  /** The same, read in this process by the code the thread runs, compiled from the sources by ts-jest. */
  async function readInProcess(file: string) {
    const batches: unknown[] = [];
    const { verdict, last } = await readFile(file, request, newBuffer, (b) => batches.push(plain(b)));
    if (last) batches.push(plain(last));
    return { scan: verdict, batches };
  }

  it.each(['mixed-valid-and-invalid.csv', 'mixed-valid-and-invalid.xml'])(
    'runs dist/pipeline/reader-thread.js (checked above) and finds in %s what the sources find in-process',
    async (name) => {
      const file = path.join(ROOT, 'fixtures', name);
      mockThreadScripts.length = 0;
      const threaded = await readThreaded(file);
      expect(mockThreadScripts.length).toBeGreaterThan(0);
      for (const s of mockThreadScripts) {
        expect(s).toBe(path.join(DIST, 'pipeline', 'reader-thread.js'));
        expect(verified().has(s)).toBe(true);
      }

      mockThreadScripts.length = 0;
      const inProcess = await readInProcess(file);
      expect(mockThreadScripts).toEqual([]);
      expect(threaded.batches.length).toBeGreaterThan(1);
      expect(threaded.batches.some((b: any) => b.others.some((r: any) => r.findings.length > 0))).toBe(true); // the record checks ran and found something
      expect(threaded).toEqual(inProcess);
    },
  );
});
