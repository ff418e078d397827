/**
 * Which folder may import which (dependency-cruiser). Run with `npm run lint:deps`; any `error` fails the run.
 *
 * The layers, top to bottom (a folder may import its own layer's files and anything BELOW it, never above):
 *   1. entry points   bin/, cli/, scripts/
 *   2. application    app/            (the composition root)
 *   3. adapters, jobs ftps/, http/ → intake/ → jobs/; uploader/, queries/
 *   4. pipeline       pipeline/
 *   5. leaves         parsers/, rules/, store/, receipts/   (they do not import each other)
 *   6. shared bottom  model/, config/                      (importable by all, import nothing of ours but model/)
 * test/ may import anything; it is held only to "no cycles".
 *
 * Each layer rule is written as an allow-list: "from X, an import of one of OUR folders that is not in
 * X's list is an error". Imports of node built-ins and packages are not covered by those rules (see the
 * package rules at the end).
 */

/** Every folder of ours. An import that resolves outside these (node_modules, node:*) is not a layer question. */
const OURS = '^(bin|cli|scripts|app|ftps|http|intake|jobs|uploader|queries|pipeline|parsers|rules|store|receipts|model|config|test)/';

/** Builds a rule: files under `from` may import of our folders only those in `allowed` (a list of folder names). */
function onlyImports(name, from, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: `^(${from.join('|')})/` },
    to: { path: OURS, pathNot: `^(${allowed.join('|')})/` },
  };
}

const SHARED = ['model', 'config'];
const LEAVES = ['parsers', 'rules', 'store', 'receipts'];

module.exports = {
  forbidden: [
    // ---- structure ------------------------------------------------------------------------------------------
    {
      name: 'no-circular',
      comment:
        'No import cycles anywhere (tests included). Type-only imports count (tsPreCompilationDeps): a cycle of types ' +
        'still means two modules that cannot be understood, moved or tested apart.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file or package is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      // Two requires are written for the build layout, not the source tree, and resolve only from dist/:
      // bin/inflow.js → ../dist/cli/main.js, and cli/main.ts → ../../package.json (from dist/cli/main.js).
      to: { couldNotResolve: true, pathNot: '^\\.\\./(dist/|\\.\\./package\\.json$)' },
    },

    // ---- 6. shared bottom -----------------------------------------------------------------------------------
    onlyImports(
      'model-imports-nothing-of-ours',
      ['model'],
      ['model'],
      'model/ is the vocabulary every layer speaks; it imports none of our folders.',
    ),
    onlyImports(
      'config-imports-only-model',
      ['config'],
      ['config', 'model'],
      'config/ (settings, data-dir layout) sits at the bottom with model/; it may use model/ types, nothing else of ours.',
    ),

    // ---- 5. leaves ------------------------------------------------------------------------------------------
    onlyImports(
      'parsers-are-a-leaf',
      ['parsers'],
      ['parsers', ...SHARED],
      'parsers/ turn bytes into model/ records; they import only model/ and config/: not rules/, store/, receipts/ or anything above.',
    ),
    onlyImports(
      'rules-are-a-leaf',
      ['rules'],
      ['rules', ...SHARED],
      'rules/ are pure checks over model/ records; they import only model/ and config/: not parsers/, store/, receipts/ or anything above.',
    ),
    onlyImports(
      'store-is-a-leaf',
      ['store'],
      ['store', ...SHARED],
      'store/ persists model/ records; it does not apply rules/ (the pipeline does), nor parse, nor write receipts.',
    ),
    onlyImports(
      'receipts-are-a-leaf',
      ['receipts'],
      ['receipts', ...SHARED],
      'receipts/ write what the pipeline decided; they import only model/ and config/.',
    ),

    // ---- 4. pipeline ----------------------------------------------------------------------------------------
    onlyImports(
      'pipeline-only-below',
      ['pipeline'],
      ['pipeline', ...LEAVES, ...SHARED],
      'pipeline/ processes one file with parsers/, rules/, store/, receipts/; it never knows about jobs/, intake/, ftps/, queries/, uploader/, app/ or cli/.',
    ),

    // ---- 3. adapters and jobs -------------------------------------------------------------------------------
    onlyImports(
      'queries-only-leaves',
      ['queries'],
      ['queries', ...LEAVES, ...SHARED],
      'queries/ (read-side use cases) sit beside the pipeline, below the adapters: leaves and shared only, not pipeline/ or anything above.',
    ),
    onlyImports(
      'jobs-only-pipeline-and-below',
      ['jobs'],
      ['jobs', 'pipeline', ...LEAVES, ...SHARED],
      'jobs/ (queue, worker, reconciler, replay, abandon) run the pipeline; they do not know the front door (intake/, ftps/) or app/, cli/.',
    ),
    onlyImports(
      'intake-only-jobs-and-below',
      ['intake'],
      ['intake', 'jobs', 'pipeline', ...LEAVES, ...SHARED],
      'intake/ is the protocol-neutral front door: it queues through jobs/; it never knows a protocol (ftps/) or app/, cli/.',
    ),
    onlyImports(
      'ftps-only-intake-and-below',
      ['ftps'],
      ['ftps', 'intake', 'pipeline', ...LEAVES, ...SHARED],
      'ftps/ is one protocol adapter: it hands files to intake/ (which queues); it does not reach into jobs/ itself, nor app/, cli/.',
    ),
    onlyImports(
      'http-only-intake-queries-and-below',
      ['http'],
      ['http', 'intake', 'queries', 'pipeline', ...LEAVES, ...SHARED],
      'http/ is the other protocol adapter: it hands files to intake/ and answers with queries/; not ftps/ (a peer), jobs/, app/ or cli/.',
    ),
    onlyImports(
      'uploader-only-below',
      ['uploader'],
      ['uploader', ...LEAVES, ...SHARED],
      'uploader/ (the DMS-side client, used by cli/) may use leaves (e.g. parsers/ to pre-check a file) and shared; not the pipeline, its peers or anything above.',
    ),

    // ---- 2. application, 1. entry points --------------------------------------------------------------------
    {
      name: 'app-not-entry-points',
      comment: 'app/ composes everything below it; it never imports cli/, scripts/ or bin/ (they are above it).',
      severity: 'error',
      from: { path: '^app/' },
      to: { path: '^(cli|scripts|bin)/' },
    },
    {
      name: 'nothing-imports-cli',
      comment: 'cli/ is an entry point: only cli/ itself (and tests) import it.',
      severity: 'error',
      from: { pathNot: '^(cli|test)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'nothing-imports-scripts',
      comment: 'scripts/ (bench and dev scripts) are entry points: only scripts/ itself (and tests) import them.',
      severity: 'error',
      from: { pathNot: '^(scripts|test)/' },
      to: { path: '^scripts/' },
    },
    {
      name: 'nothing-imports-bin',
      comment: 'bin/ is the executable; nothing imports it.',
      severity: 'error',
      from: { pathNot: '^(bin|test)/' },
      to: { path: '^bin/' },
    },

    // ---- backends and packages ------------------------------------------------------------------------------
    {
      name: 'store-sqlite-is-private',
      comment:
        'store/sqlite/ (the SQLite backend) is imported only by store/ itself, by app/ (composition) and by scripts/ ' +
        '(and tests). Everyone else goes through store/.',
      severity: 'error',
      from: { pathNot: '^(store|app|scripts|test)/' },
      to: { path: '^store/sqlite/' },
    },
    {
      name: 'better-sqlite3-only-in-store',
      comment: 'Only store/ talks to SQLite; everything else uses store/ (tests may open a database to look).',
      severity: 'error',
      from: { pathNot: '^(store|test)/' },
      to: { path: '(^|/)node_modules/(@types/)?better-sqlite3/' },
    },
    {
      name: 'redis-only-in-jobs-app-intake',
      comment:
        'bullmq and ioredis are used by jobs/ (queue, workers), app/ (composition: connections) and intake/ (queueing); nowhere else.',
      severity: 'error',
      from: { pathNot: '^(jobs|app|intake|test)/' },
      to: { path: '(^|/)node_modules/(bullmq|ioredis)/' },
    },
  ],

  options: {
    // Follow our own files only; packages show up as a node but are not cruised into.
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '^(dist|var|coverage)/' },
    moduleSystems: ['cjs', 'es6'],
    // Type-only imports (`import type`, and imports whose names are all erased) are dependencies too.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json', '.d.ts'],
    },
    skipAnalysisNotInRules: true,
    progress: { type: 'none' },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
