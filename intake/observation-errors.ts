/**
 * Why the observation desk refuses a request (docs/observations.md), protocol-neutral: the HTTP front turns each
 * into its status (403, 404, 409) by `code`, never by message text.
 */

/** The base of the desk's refusals. */
export abstract class ObservationRefused extends Error {
  abstract readonly code: string;
}

/** The sender is not this account's establishment, nor one a fleet account sends for (the F03 rule). 403. */
export class SenderNotAllowedError extends ObservationRefused {
  readonly code = 'SENDER_NOT_ALLOWED';
}

/** No such observation, or not one this account may see. 404. */
export class ObservationNotFoundError extends ObservationRefused {
  readonly code = 'OBSERVATION_NOT_FOUND';
}

/** The observation is still PENDING: it has no error number yet. 409. */
export class ObservationPendingError extends ObservationRefused {
  readonly code = 'OBSERVATION_PENDING';
}

/** The observation has no error number that may be corrected (accepted, or itself a correction). 409. */
export class NothingToCorrectError extends ObservationRefused {
  readonly code = 'NOTHING_TO_CORRECT';
}

/** The observation's error number was used already: electronic correction is allowed once (E31). 409. */
export class AlreadyCorrectedError extends ObservationRefused {
  readonly code = 'ALREADY_CORRECTED';
}

/** Confirm: the observation has no open anomaly (not flagged, or its anomaly corrected or confirmed already). 409. */
export class NoOpenAnomalyError extends ObservationRefused {
  readonly code = 'NO_OPEN_ANOMALY';
}
