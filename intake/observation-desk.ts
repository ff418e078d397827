/**
 * The observation desk (docs/observations.md): what the web services do with readings sent one at a time, protocol-
 * neutral, so that the HTTP routes only translate. An observation is kept in the store (durable, PENDING) and a
 * drain is asked for; the drainer (jobs/observation-drain.ts) checks it with the pipeline's rules and settles it.
 *
 * Who sees what: an admin every observation; another account those it sent and those sent for its establishment
 * or, for a fleet, for an establishment it sends for.
 */
import crypto from 'node:crypto';
import type { Settings } from '../config/defaults';
import { StoreBusyError, type Account, type NewObservation, type Observation, type StoredIssue, type Store } from '../store';
import type { AnomalyState } from '../model/anomaly-state';
import type { IssueCode, Severity } from '../model/issue-catalogue';
import type { RecordFields } from '../model/file-items';
import { recordFieldsOf, type ClientSoftware, type ObservationInput, type ObservationStatus } from '../model/observation';
import { allowedSenders } from '../rules/establishment';
import { normalisePlate } from '../rules/record-checks';
import { brusselsToday } from '../rules/brussels-date';
import { receiptIssueOf } from '../pipeline/write-receipt';
import { requestDrain, type DrainQueue } from '../jobs/observation-drain';
import {
  AlreadyCorrectedError,
  NoOpenAnomalyError,
  NothingToCorrectError,
  ObservationNotFoundError,
  ObservationPendingError,
  SenderNotAllowedError,
} from './observation-errors';
import { SettledWaiters } from './settled-waiters';
import { GroupCommit } from './group-commit';

/** The longest wait for a final status (SPEC §11: `?wait=N`, N ≤ 60). */
export const MAX_WAIT_SECONDS = 60;
/** Observations kept lately whose status requests skip the first look (a few seconds' worth at hundreds a second). */
const RECENT_KEPT = 10_000;

/** An issue of an observation, as a receipt gives it (its line aside: an observation has none of its own). */
export interface ObservationIssueView {
  errorNumber: string | null;
  code: IssueCode;
  severity: Severity;
  field: string;
  correctable: boolean;
  message: string;
  /** An anomaly's state (open, corrected, confirmed, withdrawn, manual); null for any other issue. */
  state: AnomalyState | null;
}

/** An observation as the web services show it (SPEC §11). */
export interface ObservationView {
  id: string;
  status: ObservationStatus;
  sender: string;
  received: string;
  processed: string | null;
  /** The reading as sent ('' where a field was not given). */
  reading: RecordFields;
  issues: ObservationIssueView[];
  /** The observation this one corrects or confirms, or null. */
  correctionOf: string | null;
  clientSoftware: ClientSoftware;
}

/** The correction input: the reading as for submit, without `corrects` (the desk names the error number). */
export type CorrectionInput = Omit<ObservationInput, 'corrects'>;

export class ObservationDesk {
  private readonly waiters: SettledWaiters;
  /**
   * Drain requests, asked for after each kept group without waiting for Redis: asked for while one is on its way,
   * one more follows it (a drain takes every observation kept before it starts). Null without Redis (the
   * reconciler, or a worker's start, asks later).
   */
  private readonly drainRequests: GroupCommit<null> | null;
  private closed = false;
  /**
   * Who may see the observations this desk kept lately (up to RECENT_KEPT, oldest dropped first): a DMS asks for the
   * status of the reading it has just sent, and that first look would find it PENDING.
   */
  private readonly recentlyKept = new Map<string, Pick<Observation, 'accountId' | 'sender'>>();
  /** Observations sent while others are being kept are kept together, after them (one change, one drain request). */
  private readonly inbox = new GroupCommit<NewObservation>(
    (list) => this.keepGroup(list),
    (err) => !(err instanceof StoreBusyError),
  );

  constructor(
    private readonly deps: {
      store: Store;
      /** Where drains are asked for; null without Redis (the reconciler, or a worker's start, asks later). */
      drain: DrainQueue | null;
      settings: Pick<Settings, 'observationPollMs'>;
    },
  ) {
    this.waiters = new SettledWaiters((ids) => deps.store.observations.settled(ids), deps.settings.observationPollMs);
    const drain = deps.drain;
    this.drainRequests =
      drain &&
      new GroupCommit<null>(
        () => requestDrain(drain),
        () => false,
      );
  }

  /** submit keeps one reading of `account` (durably) and asks for a drain; throws SenderNotAllowedError. */
  async submit(account: Account, input: ObservationInput, client: ClientSoftware): Promise<{ id: string }> {
    return this.keep(account, input, client, null);
  }

  /** get: the observation as `account` may see it, or null (none, or not this account's). */
  async get(account: Account, id: string): Promise<ObservationView | null> {
    const found = await this.deps.store.observations.getWithIssues(id);
    return found && this.sees(account, found.observation) ? viewOf(found.observation, found.issues) : null;
  }

  /**
   * waitForFinal waits up to `seconds` (at most MAX_WAIT_SECONDS) for the observation to be settled, then gives it
   * as get does (PENDING still, when the time ran out); null when `account` may not see it.
   */
  async waitForFinal(account: Account, id: string, seconds: number): Promise<ObservationView | null> {
    // One this desk kept lately needs no first look: who may see it is known, and it was PENDING.
    const kept = this.recentlyKept.get(id);
    if (!kept || !this.sees(account, kept)) {
      const first = await this.get(account, id);
      if (first?.status !== 'PENDING') return first;
    }
    await this.waiters.wait(id, Math.min(Math.max(seconds, 0), MAX_WAIT_SECONDS) * 1000);
    return this.get(account, id);
  }

  /**
   * correct sends the corrected reading for the observation's error number (its E or A issue): a new observation
   * whose `corrects` is that number, from the same sender unless the input names one. The pipeline applies the
   * once-only rule (E30–E32) as for a file; refused here when there is nothing to correct.
   */
  async correct(account: Account, id: string, input: CorrectionInput, client: ClientSoftware): Promise<{ id: string }> {
    const { observation: target, issues } = await this.settledVisible(account, id);
    const numbered = issues.filter((i) => i.severity === 'E' || i.severity === 'A');
    const issue = numbered.find((i) => i.correctable);
    if (!issue) throw new NothingToCorrectError(`observation ${id} has no error number that can be corrected`);
    if (issue.corrected) throw new AlreadyCorrectedError(`the error number of observation ${id} was used already`);
    const corrects = receiptIssueOf(issue).errorNumber!;
    return this.keep(account, { ...input, sender: input.sender ?? target.sender, corrects }, client, target.id);
  }

  /**
   * confirm states that a FLAGGED observation's reading is right as sent: a correction repeating it (same date,
   * odometer, unit), which the rules record as a confirmation (docs/corrections.md): the anomaly stays, `confirmed`.
   * Waits up to `seconds` for it to be settled and gives the confirmed observation; when the confirmation is still
   * PENDING then, gives its id instead (to be followed like any observation).
   */
  async confirm(
    account: Account,
    id: string,
    client: ClientSoftware,
    seconds = MAX_WAIT_SECONDS,
  ): Promise<{ confirmed: ObservationView } | { pending: string }> {
    const { observation: target, issues } = await this.settledVisible(account, id);
    const anomaly = issues.find((i) => i.severity === 'A' && i.state === 'open' && !i.corrected && i.correctable);
    if (!anomaly) throw new NoOpenAnomalyError(`observation ${id} has no open anomaly to confirm`);
    const corrects = receiptIssueOf(anomaly).errorNumber!;
    const repeat: ObservationInput = { ...target.fields, sender: target.sender, corrects };
    const confirmation = await this.keep(account, repeat, client, target.id);
    const settled = await this.waitForFinal(account, confirmation.id, seconds);
    if (settled?.status === 'PENDING') return { pending: confirmation.id };
    return { confirmed: (await this.get(account, id))! };
  }

  /** close stops the waiters' poll (waiters still waiting get their observation as it is). */
  close(): void {
    this.closed = true;
    this.waiters.close();
  }

  private async keep(
    account: Account,
    input: ObservationInput,
    client: ClientSoftware,
    correctionOf: string | null,
  ): Promise<{ id: string }> {
    const sender = input.sender?.trim() || account.establishment;
    if (!allowedSenders(account).includes(sender)) {
      throw new SenderNotAllowedError(`account ${account.establishment} may not send readings for establishment ${sender}`);
    }
    const fields = recordFieldsOf(input);
    const now = new Date();
    const id = crypto.randomUUID();
    await this.inbox.add({
      id,
      accountId: account.id,
      sender,
      fields,
      vehicleKey: fields.vin !== '' ? fields.vin.toUpperCase() : normalisePlate(fields.plate),
      client,
      correctionOf,
      receivedAt: now.toISOString(),
      receivedDate: brusselsToday(now),
    });
    return { id };
  }

  /** keepGroup keeps observations sent at the same time as one change, then asks for a drain (not waiting for Redis). */
  private async keepGroup(list: readonly NewObservation[]): Promise<void> {
    await this.deps.store.observations.add(list);
    for (const o of list) this.recentlyKept.set(o.id, { accountId: o.accountId, sender: o.sender });
    for (const id of this.recentlyKept.keys()) {
      if (this.recentlyKept.size <= RECENT_KEPT) break;
      this.recentlyKept.delete(id);
    }
    if (this.closed) return;
    // Kept already: a Redis that cannot take the request now delays the observations, never loses them.
    this.drainRequests?.add(null).catch((err: Error) => {
      if (!this.closed) process.stderr.write(`observations: drain not asked for: ${err.message}\n`);
    });
  }

  private sees(account: Account, o: Pick<Observation, 'accountId' | 'sender'>): boolean {
    return account.role === 'admin' || o.accountId === account.id || allowedSenders(account).includes(o.sender);
  }

  /** settledVisible: the observation and its issues when `account` may see it and it is settled; else a typed refusal. */
  private async settledVisible(account: Account, id: string): Promise<{ observation: Observation; issues: StoredIssue[] }> {
    const found = await this.deps.store.observations.getWithIssues(id);
    if (!found || !this.sees(account, found.observation)) throw new ObservationNotFoundError(`no observation ${id}`);
    if (found.observation.status === 'PENDING') throw new ObservationPendingError(`observation ${id} is still PENDING`);
    return found;
  }
}

/** viewOf: an observation and its issues as the web services show them (the issues as a receipt gives them). */
function viewOf(o: Observation, issues: readonly StoredIssue[]): ObservationView {
  return {
    id: o.id,
    status: o.status,
    sender: o.sender,
    received: o.receivedAt,
    processed: o.processedAt,
    reading: o.fields,
    issues: issues.map((i) => {
      const r = receiptIssueOf(i);
      return {
        errorNumber: r.errorNumber,
        code: r.code,
        severity: r.severity,
        field: r.field,
        correctable: r.correctable,
        message: r.message,
        state: i.state,
      };
    }),
    correctionOf: o.correctionOf,
    clientSoftware: o.client,
  };
}
