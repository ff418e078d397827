/** The one JSON shape of a received file: `inflow files list --json` (docs/cli.md) and GET /api/v1/files. */
import type { FileRecord } from '../store';

/** fileJson: a file as the CLI and the web services show it; more fields may be added. */
export function fileJson(f: FileRecord) {
  return {
    id: f.id,
    account: f.account,
    name: f.name,
    sha256: f.sha256,
    status: f.status,
    result: f.result,
    receivedAt: f.receivedAt,
    processedAt: f.processedAt,
    size: f.size,
    format: f.format,
    records: f.records,
    accepted: f.accepted,
    rejected: f.rejected,
    anomalies: f.anomalies,
    warnings: f.warnings,
    duplicateOf: f.duplicateOf,
  };
}
