/**
 * The files of the multi-host test (test/helpers/fleet-files.ts) must end the same whatever the order in which they
 * are processed, or comparing a fleet's run (files side by side) with a serial one would prove nothing: one worker
 * on SQLite processes them forwards and backwards, and the stores must hold the same. A file whose trailer check
 * passed would change every other file's outcome: that comparison must see it.
 */
import { ACCOUNTS, fleetFiles } from './helpers/fleet-files';
import { referenceRun, type ReferenceFile } from './helpers/reference-run';
import { dumpDiff, type StoreDump } from './helpers/store-dump';

const FILES = fleetFiles(20, 3, 1000, 100);
const receivedAt = new Date().toISOString();
const asReceived = (files: typeof FILES): ReferenceFile[] => files.map((f) => ({ ...f, receivedAt }));

let forwards: StoreDump;
beforeAll(async () => {
  forwards = await referenceRun(ACCOUNTS, asReceived(FILES));
}, 60_000);

it('end the same processed forwards or backwards', async () => {
  const backwards = await referenceRun(ACCOUNTS, asReceived([...FILES].reverse()));
  expect(dumpDiff(forwards, backwards)).toBe('');
  expect(forwards.errorNumbers.length).toBeGreaterThan(500);
}, 120_000);

it('and the rejected file, were it accepted, would show in every file that shares its vehicles', async () => {
  const cut = FILES[FILES.length - 1];
  const whole = { ...cut, text: cut.text.replace(/^T;(\d+)/m, (_, n) => `T;${Number(n) - 1}`) };
  const leaked = await referenceRun(ACCOUNTS, asReceived([whole, ...FILES.slice(0, -1)]));
  const diff = dumpDiff(forwards, leaked);
  for (const f of FILES) expect(diff).toContain(`${f.account}/${f.name}:`);
}, 120_000);
