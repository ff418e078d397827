/**
 * A drainer killed in the middle of a round (docs/observations.md) loses nothing and stores nothing twice: the real
 * service without workers of its own, and an `inflow worker` that dies (SIGKILL) after storing its first round and
 * before closing it (the crash is injected from outside the product: helpers/die-in-round.cjs, preloaded); a second
 * worker takes the drain over once the dead one's lock expires and resumes the round.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestService, type TestService } from './helpers/service';
import { Readable } from 'node:stream';
import { envFor, inflowSync, spawnInflow, sleep, type Proc } from './helpers/ops';
import { csvBatch, daysAgo, vin } from './helpers/batch';
import type { Account } from '../store';
import { ObservationDesk } from '../intake/observation-desk';

const GARAGE = '2123456692';
const DMS = { builder: 'Test Builder', name: 'TestDMS', version: '1.0' };
const FAST_ENV = { INFLOW_JOB_LOCK_MS: '2000', INFLOW_STALLED_INTERVAL_MS: '1000' };

jest.setTimeout(90_000);

let svc: TestService;
let marker: string;
const workers: Proc[] = [];
beforeAll(async () => {
  marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-die-')), 'died');
  svc = await startTestService({ workers: 0, jobLockMs: 2000, stalledIntervalMs: 1000 });
  await svc.addAccount(GARAGE, 'pw');
});
afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  await svc?.teardown();
  fs.rmSync(path.dirname(marker), { recursive: true, force: true });
});

it('settles every observation once after its drainer died in a round', async () => {
  const account = (await svc.store.accounts.byEstablishment(GARAGE)) as Account;
  const inputs = Array.from({ length: 20 }, (_, i) => ({
    vin: vin(500 + i),
    date: daysAgo(2),
    odometer: 1000 + i,
    unit: 'km',
    work: i === 7 ? 'WASH' : 'MAINT',
  }));
  // Kept while no worker runs: PENDING, in the store only.
  const ids = await Promise.all(inputs.map((input) => svc.observations.submit(account, input, DMS)));
  expect(await svc.store.observations.pendingCount()).toBe(20);

  // It may die before it says it is running (it drains at once): only its start is waited for.
  const dying = { INFLOW_TEST_DIE_IN_ROUND: marker, NODE_OPTIONS: `--require ${path.join(__dirname, 'helpers', 'die-in-round.cjs')}` };
  const doomed = await spawnInflow(['worker'], envFor(svc, { ...FAST_ENV, ...dying }), /(?:)/);
  workers.push(doomed);
  expect((await doomed.exited).signal).toBe('SIGKILL');
  expect(fs.existsSync(marker)).toBe(true);
  expect(await svc.store.observations.pendingCount()).toBe(20); // stored, not settled: the round is open

  workers.push(await spawnInflow(['worker'], envFor(svc, FAST_ENV), 'is running'));
  const views = await Promise.all(ids.map(({ id }) => svc.observations.waitForFinal(account, id, 60)));
  expect(views.map((v) => v!.status)).toEqual(inputs.map((_, i) => (i === 7 ? 'REJECTED' : 'ACCEPTED')));
  expect(views[7]!.issues.map((i) => i.code)).toEqual(['E19']);
  for (const [i, v] of views.entries()) if (i !== 7) expect(v!.issues).toEqual([]);
  const timelines = await Promise.all(inputs.map((input) => svc.store.readings.timeline(input.vin)));
  expect(timelines.map((t) => t.length)).toEqual(inputs.map((_, i) => (i === 7 ? 0 : 1)));
  expect(await svc.store.observations.pendingCount()).toBe(0);
});

it('keeps an observation nobody asked a drain for (Redis away); the reconciler asks for the drain later', async () => {
  const account = (await svc.store.accounts.byEstablishment(GARAGE)) as Account;
  // A desk without a drain queue: what a front sees when Redis cannot take the request.
  const desk = new ObservationDesk({ store: svc.store, drain: null, settings: svc.settings });
  // Drains asked for before (a worker's start, deduplicated ones) end first: only the reconciler asks from here.
  await new Promise((r) => setTimeout(r, 3000));
  try {
    const { id } = await desk.submit(account, { vin: vin(600), date: daysAgo(2), odometer: 5, unit: 'km', work: 'MAINT' }, DMS);
    expect((await desk.get(account, id))!.status).toBe('PENDING');
    // The service's reconciler (every 2 s here) sees it pending and asks the drainer on the live Redis.
    expect((await svc.observations.waitForFinal(account, id, 30))!.status).toBe('ACCEPTED');
  } finally {
    desk.close();
  }
});

it('runs files and observations in separate worker processes with --jobs', async () => {
  const account = (await svc.store.accounts.byEstablishment(GARAGE)) as Account;
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
  const drainer = await spawnInflow(['worker', '--jobs', 'observations'], envFor(svc, FAST_ENV), 'is running observations');
  workers.push(drainer);
  const client = await svc.connect(GARAGE, 'pw');
  try {
    await client.uploadFrom(Readable.from([Buffer.from(csvBatch(GARAGE, [{ vin: vin(700) }], { trailer: true }))]), 'jobs.csv');
    const { id } = await svc.observations.submit(account, { vin: vin(701), date: daysAgo(2), odometer: 9, unit: 'km', work: 'MAINT' }, DMS);
    expect((await svc.observations.waitForFinal(account, id, 30))!.status).toBe('ACCEPTED');
    await sleep(1500); // no file worker: the file stays queued
    const file = (await svc.store.files.list()).find((f) => f.name === 'jobs.csv')!;
    expect((await svc.store.files.get(file.pk))!.status).toBe('queued');
    workers.push(await spawnInflow(['worker', '--jobs', 'files'], envFor(svc, FAST_ENV), 'is running files'));
    for (let i = 0; i < 100 && (await svc.store.files.get(file.pk))!.status !== 'done'; i++) await sleep(200);
    expect((await svc.store.files.get(file.pk))!.status).toBe('done');
  } finally {
    client.close();
  }
  const bad = inflowSync(['worker', '--jobs', 'files,receipts', '--data-dir', svc.dir]);
  expect(bad.code).not.toBe(0);
  expect(bad.err).toContain('invalid setting workerJobs (INFLOW_WORKER_JOBS): files,receipts');
});
