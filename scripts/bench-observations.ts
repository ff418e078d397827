/**
 * The observations stage (issue #16): while a nightly-sized file is being processed, concurrent HTTPS clients, each
 * a DMS with an account of its own (the rate limit is per account), send readings one at a time: each POST
 * /observations is followed by GET …?wait= until the final status. Timed: observations/s over the load, and each
 * observation's time to its final status (from the start of its POST to the final answer), p50 and p99; the file's
 * records/s in the same stage, and whether it was still being processed when the last observation was final.
 */
import https from 'node:https';
import { DEFAULTS } from '../config/defaults';
import { MAX_WAIT_SECONDS } from '../intake/observation-desk';
import { openFileQueue } from '../jobs/queue';
import { benchOdometer, benchVin } from './bench-data';
import { round2, runStage, stageTimeoutMs, type StageFile, type StageResult } from './bench-stage';
import { addAccount, BenchFailure, log, setWorkers, signals, type Run } from './bench-stack';
import type { ObservationLoad, StageSpec } from './bench-stages';
import { mod97Check } from '../rules/establishment';
import type { ObservationInput, ObservationStatus } from '../model/observation';

export interface ObservationResult {
  stage: string;
  clients: number;
  observations: number;
  /** Final statuses counted (the bench fails unless every one is ACCEPTED). */
  statuses: Partial<Record<ObservationStatus, number>>;
  /** From the start of the file's upload until the first POST (the file was being processed by then). */
  startSeconds: number;
  /** From the first POST until the last final answer. */
  seconds: number;
  observationsPerSecond: number;
  /** Time to the final status, from the start of the POST to the final answer. */
  p50Seconds: number;
  p99Seconds: number;
  maxSeconds: number;
  /** The stage's file, as the stage table gives it. */
  nightlySeconds: number;
  nightlyRecordsPerSecond: number;
  /** Whether the file's receipt came after the last observation's final answer: the two really overlapped. */
  nightlyStillRunning: boolean;
  /** Its receipt came this long after the last final answer (negative: before it). */
  nightlyAfterSeconds: number;
}

/** The DMS headers every observation route wants. */
const DMS_HEADERS = { 'client-software-builder': 'odo-inflow', 'client-software-name': 'bench', 'client-software-version': '1' };

/** One DMS: its account and one kept-alive TLS connection (requests one after the other). */
export class DmsClient {
  private readonly agent: https.Agent;
  private readonly authorization: string;
  constructor(
    private readonly port: number,
    cert: string,
    readonly account: string,
    password: string,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert, servername: 'localhost' });
    this.authorization = 'Basic ' + Buffer.from(`${account}:${password}`).toString('base64');
  }

  /** request sends a JSON request to `path` under /api/v1; gives the status and the parsed JSON answer. */
  request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { ...DMS_HEADERS, authorization: this.authorization };
    if (data !== undefined) headers['content-type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: this.port, path: `/api/v1${path}`, method, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
            } catch {
              reject(new Error(`${method} ${path}: answer ${res.statusCode} is not JSON: ${text.slice(0, 200)}`));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** clientEstablishments: `n` valid establishment numbers (mod-97), one per client, none the bench's own account. */
export function clientEstablishments(n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const base = String(31_000_000 + i);
    return base + mod97Check(base);
  });
}

/** observationOf: observation k of a load, as its client sends it. */
export function observationOf(load: ObservationLoad, k: number): ObservationInput {
  const vehicle = load.from + k;
  return {
    ref: `WO-obs-${k + 1}`,
    vin: benchVin(vehicle),
    date: load.date,
    odometer: benchOdometer(vehicle, load.step),
    unit: 'km',
    work: 'MAINT',
  };
}

/** One observation's outcome: its final status, when its POST started and when its final status came (performance.now()). */
export interface Sent {
  id: string;
  status: ObservationStatus;
  startedAt: number;
  finalAt: number;
  /** The final answer, for a failure message. */
  view: unknown;
}

/**
 * sendObservations: each client sends its share (observation k by client k mod clients), one request after the
 * other: POST, then GET ?wait= until the status is final. Stops at `deadline` (performance.now()) or when `stop()`
 * says why. The times are performance.now() values.
 */
export async function sendObservations(
  clients: DmsClient[],
  load: ObservationLoad,
  deadline: number,
  stop: () => string | null,
): Promise<Sent[]> {
  const sent: Sent[] = [];
  let failed: string | null = null; // the first client that fails stops the others
  const stopped = () => failed ?? stop() ?? (performance.now() > deadline ? 'time is up (--timeout)' : null);
  const fail = (client: DmsClient, what: string, res: { status: number; body: unknown }) => {
    const limit =
      res.status === 429
        ? ` (each client is one account: at most ${DEFAULTS.httpRequestsPerMinute} requests a minute; use more --clients)`
        : '';
    return new BenchFailure(`observations: ${client.account}: ${what} answered ${res.status}${limit}: ${JSON.stringify(res.body)}`);
  };
  const sendShare = async (client: DmsClient, c: number) => {
    for (let k = c; k < load.count; k += clients.length) {
      const why = stopped();
      if (why) throw new BenchFailure(`observations stopped after ${sent.length} of ${load.count}: ${why}`);
      const startedAt = performance.now();
      const posted = await client.request('POST', '/observations', observationOf(load, k));
      if (posted.status !== 202) throw fail(client, `POST /observations (observation ${k + 1})`, posted);
      const { id, statusUrl } = posted.body as { id: string; statusUrl: string };
      for (;;) {
        const res = await client.request('GET', `${statusUrl.replace(/^\/api\/v1/, '')}?wait=${MAX_WAIT_SECONDS}`);
        if (res.status !== 200) throw fail(client, `GET ${statusUrl}`, res);
        const status = (res.body as { status: ObservationStatus }).status;
        if (status !== 'PENDING') {
          sent.push({ id, status, startedAt, finalAt: performance.now(), view: res.body });
          break;
        }
        const why = stopped();
        if (why) throw new BenchFailure(`observation ${id} still PENDING: ${why}`);
      }
    }
  };
  await Promise.all(
    clients.map((client, c) =>
      sendShare(client, c).catch((err: Error) => {
        failed ??= `${client.account} failed`;
        throw err;
      }),
    ),
  );
  return sent;
}

/** percentile (nearest rank) of sorted values. */
const percentile = (sorted: number[], p: number) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];

/**
 * summarise: statuses counted and the times of the load, in seconds. Fails (BenchFailure, `where` first) unless
 * every observation is ACCEPTED: a bench of a pipeline that flags or rejects them measures nothing.
 */
export function summarise(
  sent: Sent[],
  where: string,
): Pick<ObservationResult, 'statuses' | 'seconds' | 'observationsPerSecond' | 'p50Seconds' | 'p99Seconds' | 'maxSeconds'> {
  const statuses: ObservationResult['statuses'] = {};
  for (const s of sent) statuses[s.status] = (statuses[s.status] ?? 0) + 1;
  const notAccepted = sent.find((s) => s.status !== 'ACCEPTED');
  if (notAccepted)
    throw new BenchFailure(
      `${where}: observations ${JSON.stringify(statuses)}; every one must be ACCEPTED, e.g.: ${JSON.stringify(notAccepted.view)}`,
    );
  const times = sent.map((s) => (s.finalAt - s.startedAt) / 1000).sort((a, b) => a - b);
  const seconds = (Math.max(...sent.map((s) => s.finalAt)) - Math.min(...sent.map((s) => s.startedAt))) / 1000;
  return {
    statuses,
    seconds: round2(seconds),
    observationsPerSecond: Math.round(sent.length / seconds),
    p50Seconds: round2(percentile(times, 0.5)),
    p99Seconds: round2(percentile(times, 0.99)),
    maxSeconds: round2(times[times.length - 1]),
  };
}

/**
 * runObservationStage: the clients' accounts and logins first (untimed), then the stage's file is uploaded as any
 * stage's, and as soon as its job is taken by a worker the observations are sent. Fails unless the file's receipt
 * is as expected and every observation ends ACCEPTED.
 */
export async function runObservationStage(
  run: Run,
  stage: StageSpec,
  files: StageFile[],
): Promise<{ stage: StageResult; observations: ObservationResult }> {
  const load = stage.observations!;
  await setWorkers(run, stage.workers);
  const clients = await loggedInClients(run, load.clients);
  try {
    const uploadStart = performance.now();
    const nightly = runStage(run, stage, files);
    let nightlyError: string | null = null;
    let nightlyEnded = false;
    nightly.then(
      () => (nightlyEnded = true),
      (err: Error) => (nightlyError = `the stage's file failed: ${err.message.split('\n')[0]}`),
    );
    await processingStarted(run, () => nightlyEnded || nightlyError !== null);
    log(`${run.backend}: ${stage.name}: the file is being processed; ${load.count} observations from ${load.clients} clients…`);
    const deadline = performance.now() + stageTimeoutMs(run, load.count);
    let sent: Sent[];
    try {
      sent = await sendObservations(clients, load, deadline, () => (signals.interrupted ? 'interrupted' : nightlyError));
    } catch (err) {
      if (nightlyError) await nightly; // its own failure, with the diagnostics
      throw err;
    }
    const result = await nightly;
    const summary = summarise(sent, `${run.backend}: stage "${stage.name}"`);
    const firstPost = Math.min(...sent.map((s) => s.startedAt));
    const lastFinal = Math.max(...sent.map((s) => s.finalAt));
    const nightlyAfterSeconds = round2(result.seconds - (lastFinal - uploadStart) / 1000);
    return {
      stage: result,
      observations: {
        stage: stage.name,
        clients: load.clients,
        observations: sent.length,
        startSeconds: round2((firstPost - uploadStart) / 1000),
        ...summary,
        nightlySeconds: result.seconds,
        nightlyRecordsPerSecond: result.recordsPerSecond,
        nightlyStillRunning: nightlyAfterSeconds > 0,
        nightlyAfterSeconds,
      },
    };
  } finally {
    for (const c of clients) c.close();
  }
}

/**
 * loggedInClients adds the clients' accounts to the store (a restored state has none) and makes one request with
 * each, so the password checks (scrypt, then remembered: intake/login.ts) are done before the timing starts.
 */
async function loggedInClients(run: Run, n: number): Promise<DmsClient[]> {
  const t0 = performance.now();
  const clients = clientEstablishments(n).map((account, i) => {
    addAccount(run, account, `Bench DMS ${i + 1}`);
    return new DmsClient(run.httpPort, run.cert, account, run.password);
  });
  for (const c of clients) {
    const res = await c.request('GET', '/activities');
    if (res.status !== 200)
      throw new BenchFailure(`observations: ${c.account}: GET /activities answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  log(`${run.backend}: ${n} client accounts added and logged in (${((performance.now() - t0) / 1000).toFixed(1)} s, untimed)`);
  return clients;
}

/** processingStarted resolves once a worker has taken the stage's file (its job active or done) or `ended()` says so. */
async function processingStarted(run: Run, ended: () => boolean): Promise<void> {
  const q = openFileQueue(run.redis!.url, DEFAULTS, { setConcurrency: false });
  try {
    for (;;) {
      if (ended() || signals.interrupted) return;
      const counts = await q.queue.getJobCounts('active', 'completed', 'failed');
      if (counts.active + counts.completed + counts.failed > 0) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await q.close();
  }
}
