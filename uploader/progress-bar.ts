/**
 * A progress display for long CLI operations: on a terminal one line redrawn in place (bar, count, detail); on a
 * pipe or file only plain lines, one per event, so logs stay readable.
 */
export interface ProgressOut {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressBar {
  private drawn = false;

  constructor(
    private readonly out: ProgressOut,
    private readonly total: number,
    private readonly width = 24,
  ) {}

  get tty(): boolean {
    return !!this.out.isTTY;
  }

  /** update redraws the bar (TTY only): `done` of `total`, and a short detail. */
  update(done: number, detail: string): void {
    if (!this.tty) return;
    const filled = this.total === 0 ? this.width : Math.round((done / this.total) * this.width);
    let line = `[${'#'.repeat(filled)}${'-'.repeat(this.width - filled)}] ${done}/${this.total}  ${detail}`;
    const cols = this.out.columns ?? 100;
    if (line.length > cols - 1) line = line.slice(0, cols - 2) + '…';
    this.out.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** log prints a line: above the bar on a TTY, as is otherwise. */
  log(line: string): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[K');
    this.out.write(line + '\n');
    this.drawn = false;
  }

  /** finish clears the bar. */
  finish(): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
