/** The public id of a received file: what senders, admins and the queue call it. */

/** fileIdOf turns a file's number into its public id: `F` + six or more digits (never all digits, as BullMQ job ids must not be). */
export function fileIdOf(pk: number): string {
  return 'F' + String(pk).padStart(6, '0');
}

/** filePkOf parses a public file id (`F000123`, or `123`); null when it is not one. */
export function filePkOf(id: string): number | null {
  const m = /^F?0*(\d{1,15})$/i.exec(id.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** The file number of the readings and issues the correction form stores (`inflow corrections apply`): they have no file; their line is the correction's id. */
export const MANUAL_FILE_PK = 0;

/** shownPlace: a record's file id and line as users see them; both null for a record of the correction form. */
export function shownPlace(filePk: number, line: number): { fileId: string | null; line: number | null } {
  return filePk === MANUAL_FILE_PK ? { fileId: null, line: null } : { fileId: fileIdOf(filePk), line };
}
