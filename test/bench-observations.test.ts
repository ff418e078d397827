/**
 * The bench's observations stage (`npm run bench -- --observations N --clients N`, issue #16), at a tiny size: its
 * plan gives every observation a vehicle the stage's file does not hold, with an earlier, lower reading in the state
 * the stage starts from; its clients, each an account of its own, send readings over real HTTPS to a running
 * service and wait for their final status; the load fails unless every observation is ACCEPTED.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { datasetRecords, daysAgo, readingsOf, writeBatch, type Reading } from '../scripts/bench-data';
import { clientEstablishments, DmsClient, observationOf, sendObservations, summarise } from '../scripts/bench-observations';
import { maxObservations, OBSERVATIONS_STAGE, stageList, type ObservationLoad } from '../scripts/bench-stages';
import { useTestService, waitForReceipt } from './helpers/service';

jest.setTimeout(60_000);

const VEHICLES = 40;

test('the observations stage: last, from the two-file snapshot; its observations follow a reading of a vehicle its file does not hold', () => {
  const stages = stageList(VEHICLES, { tenfold: true, allErrors: true, observations: { clients: 3, count: maxObservations(VEHICLES) } });
  const stage = stages[stages.length - 1];
  expect(stage).toMatchObject({ name: OBSERVATIONS_STAGE, workers: 1, postgresWorkerJobs: ['files', 'observations'], restore: 'pairs' });
  expect(stage.files.map((f) => datasetRecords(f.dataset))).toEqual([VEHICLES * 2 * 6]); // six times the nightly's
  const load = stage.observations!;
  expect(load).toMatchObject({ clients: 3, count: VEHICLES / 2 });

  // The state the stage starts from: every stage before the one that saved the snapshot.
  const saved = stages.findIndex((s) => s.snapshot === stage.restore);
  const last = new Map<string, Reading>();
  for (const s of stages.slice(0, saved)) for (const f of s.files) for (const r of readingsOf(f.dataset)) last.set(r.vin, r);
  const fileVins = new Set([...readingsOf(stage.files[0].dataset)].map((r) => r.vin));
  for (const r of readingsOf(stage.files[0].dataset)) expect(r.odometer).toBeGreaterThan(last.get(r.vin)!.odometer);
  for (let k = 0; k < load.count; k++) {
    const o = observationOf(load, k);
    expect(fileVins.has(o.vin!)).toBe(false);
    const before = last.get(o.vin!)!;
    expect(before.date <= o.date).toBe(true);
    expect(Number(o.odometer)).toBeGreaterThan(before.odometer);
    expect(Number(o.odometer) - before.odometer).toBeLessThan(1000); // A42: km a day
  }
  expect(stageList(VEHICLES, { tenfold: false, allErrors: false, observations: null }).map((s) => s.name)).not.toContain(
    OBSERVATIONS_STAGE,
  );
});

describe('the observation clients against a running service', () => {
  const PASSWORD = 'bench observations password';
  const accounts = clientEstablishments(3);
  const svc = useTestService({ observationPollMs: 20 }, accounts, PASSWORD);
  const load: ObservationLoad = { clients: accounts.length, count: 12, from: 500, date: daysAgo(1), step: 4 };

  beforeAll(async () => {
    // The vehicles' history: one earlier reading each (step 3, the day before), as the nightly stage leaves it.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-obs-'));
    const dataset = { name: 'history', from: load.from, to: load.from + load.count, dates: [daysAgo(2)], firstStep: 3 };
    const file = await writeBatch(dataset, 'csv', accounts[0], path.join(dir, 'history.csv'));
    const ftp = await svc.connect(accounts[0], PASSWORD);
    await ftp.uploadFrom(file.path, 'history.csv');
    expect(await waitForReceipt(ftp, 'history.csv.receipt.csv')).toMatch(/;ACCEPTED;12;12;/);
    ftp.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const clients = () => accounts.map((a) => new DmsClient(svc.httpPort!, svc.tlsCert, a, PASSWORD));

  test('each client sends its share and waits for the final status: all ACCEPTED, timed', async () => {
    const cs = clients();
    const sent = await sendObservations(cs, load, performance.now() + 30_000, () => null);
    cs.forEach((c) => c.close());
    expect(sent).toHaveLength(load.count);
    expect(new Set(sent.map((s) => s.id)).size).toBe(load.count);
    const summary = summarise(sent, 'test');
    expect(summary.statuses).toEqual({ ACCEPTED: load.count });
    expect(summary.p50Seconds).toBeLessThanOrEqual(summary.p99Seconds);
    expect(summary.p99Seconds).toBeLessThanOrEqual(summary.maxSeconds);
    expect(summary.maxSeconds).toBeLessThanOrEqual(summary.seconds);
    expect(summary.observationsPerSecond).toBeGreaterThan(0);
  });

  test('a load whose readings are flagged fails the bench, naming the statuses', async () => {
    const cs = clients();
    // Step 2 is below the readings just stored at steps 3 and 4: a roll-back (A40), FLAGGED.
    const sent = await sendObservations(cs, { ...load, count: 3, step: 2 }, performance.now() + 30_000, () => null);
    cs.forEach((c) => c.close());
    expect(sent.map((s) => s.status)).toEqual(['FLAGGED', 'FLAGGED', 'FLAGGED']);
    expect(() => summarise(sent, 'test')).toThrow(/test: observations \{"FLAGGED":3\}; every one must be ACCEPTED, e\.g\.: .*"A40"/);
  });

  test('a client that is refused stops the load with the answer', async () => {
    const cs = [new DmsClient(svc.httpPort!, svc.tlsCert, accounts[0], 'wrong password')];
    await expect(sendObservations(cs, { ...load, count: 2 }, performance.now() + 30_000, () => null)).rejects.toThrow(
      `observations: ${accounts[0]}: POST /observations (observation 1) answered 401`,
    );
    cs.forEach((c) => c.close());
  });
});
