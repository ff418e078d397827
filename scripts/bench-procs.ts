/**
 * Bench child processes: `inflow serve` / `inflow worker` children with their output kept (log file + tail in
 * memory), memory sampling from /proc, and a cleanup that stops every child, also on error or Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The CLI entry (bin/inflow.js runs dist/cli/main.js); this file runs from dist/scripts/. */
export const INFLOW_BIN = path.resolve(__dirname, '..', '..', 'bin', 'inflow.js');

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  logFile: string;
  /** Last lines of stdout+stderr. */
  tail: string[];
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
}

const TAIL_LINES = 40;

/**
 * spawnInflow starts `node [nodeFlags] bin/inflow.js <args>` (the pid is node's own: no shell in between).
 */
export function spawnInflow(name: string, args: string[], logDir: string, nodeFlags: string[] = []): Child {
  const logFile = path.join(logDir, `${name}.log`);
  const log = fs.createWriteStream(logFile);
  const proc = spawn(process.execPath, [...nodeFlags, INFLOW_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const c: Child = { name, proc, pid: proc.pid!, logFile, tail: [], exited: null };
  const keep = (stream: string) => (d: Buffer) => {
    log.write(d);
    for (const line of d.toString('utf8').split('\n')) if (line.trim()) c.tail.push(`[${stream}] ${line}`);
    if (c.tail.length > TAIL_LINES) c.tail.splice(0, c.tail.length - TAIL_LINES);
  };
  proc.stdout!.on('data', keep('out'));
  proc.stderr!.on('data', keep('err'));
  proc.on('exit', (code, signal) => {
    c.exited = { code, signal };
    log.end();
  });
  return c;
}

/** waitForOutput resolves when the child prints `text`; rejects when it exits first or time runs out. */
export function waitForOutput(c: Child, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const tick = () => {
      if (c.tail.some((l) => l.includes(text))) return resolve();
      if (c.exited)
        return reject(
          new Error(`${c.name} exited (code ${c.exited.code}, signal ${c.exited.signal}) before printing "${text}"\n${describeTail(c)}`),
        );
      if (Date.now() > deadline) return reject(new Error(`${c.name} did not print "${text}" within ${timeoutMs} ms\n${describeTail(c)}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}

export function describeTail(c: Child, lines = 20): string {
  return `--- last lines of ${c.name} (pid ${c.pid}, full log ${c.logFile}) ---\n` + (c.tail.slice(-lines).join('\n') || '(no output)');
}

/** stopChild: SIGTERM (the CLI closes gracefully), SIGKILL after `graceMs`. */
export function stopChild(c: Child, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (c.exited || c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
    const t = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
    c.proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
}

/** runInflow runs a short CLI command to completion (accounts add, files list). */
export function runInflow(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [INFLOW_BIN, ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** kB value of one /proc/<pid>/status field, or null when the process is gone. */
export function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) of a process so far, seconds, from /proc/<pid>/stat; null when it is gone. */
export function procCpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, in parentheses): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux whatever the kernel's HZ). */
const CLOCK_TICKS = 100;

/**
 * A worker that used at least this share of one core over a window of BUSY_WINDOW_MS counts as busy in it. Low: a
 * worker storing into PostgreSQL waits on the server much of the time, while an idle one (waiting for a job, or for
 * another file's vehicles) uses next to nothing.
 */
const BUSY_SHARE = 0.1;
const BUSY_WINDOW_MS = 500;

/**
 * RssSampler reads VmRSS and CPU time of the watched processes every `intervalMs` and keeps, per process, the
 * peak RSS since the last `resetPeaks()` (one stage) and over the whole run, the CPU seconds of the stage, and how
 * long two or more workers were busy at the same time (files really processed side by side).
 */
export class RssSampler {
  private readonly watched = new Map<string, number>();
  private readonly stagePeak = new Map<string, number>();
  private readonly runPeak = new Map<string, number>();
  private readonly cpuAtStart = new Map<string, number>();
  private readonly cpuLast = new Map<string, number>();
  private readonly cpuAtWindow = new Map<string, number>();
  private windowStart = 0;
  private bothBusyMs = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs = 100) {}

  watch(name: string, pid: number): void {
    this.watched.set(name, pid);
    this.cpuAtStart.delete(name);
    this.cpuLast.delete(name);
    this.cpuAtWindow.delete(name);
  }

  start(): void {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  sample(): void {
    const now = performance.now();
    for (const [name, pid] of this.watched) {
      const kb = procStatusKb(pid, 'VmRSS');
      if (kb === null) continue;
      if (kb > (this.stagePeak.get(name) ?? 0)) this.stagePeak.set(name, kb);
      if (kb > (this.runPeak.get(name) ?? 0)) this.runPeak.set(name, kb);
      const cpu = procCpuSeconds(pid);
      if (cpu === null) continue;
      if (!this.cpuAtStart.has(name)) this.cpuAtStart.set(name, cpu);
      this.cpuLast.set(name, cpu);
    }
    if (now - this.windowStart >= BUSY_WINDOW_MS) this.closeWindow(now);
  }

  /** closeWindow counts the window as side by side when two or more workers were busy in it, and starts the next. */
  private closeWindow(now: number): void {
    const seconds = (now - this.windowStart) / 1000;
    let busy = 0;
    for (const [name, cpu] of this.cpuLast) {
      const before = this.cpuAtWindow.get(name);
      if (name.startsWith('worker') && before !== undefined && (cpu - before) / seconds >= BUSY_SHARE) busy++;
      this.cpuAtWindow.set(name, cpu);
    }
    if (busy >= 2 && this.windowStart) this.bothBusyMs += now - this.windowStart;
    this.windowStart = now;
  }

  /** resetPeaks starts a new stage: peaks, CPU seconds and the side-by-side time count from here. */
  resetPeaks(): void {
    this.stagePeak.clear();
    this.cpuAtStart.clear();
    this.cpuLast.clear();
    this.cpuAtWindow.clear();
    this.bothBusyMs = 0;
    this.windowStart = 0;
    this.sample();
  }

  stagePeakMb(name: string): number | null {
    const kb = this.stagePeak.get(name);
    return kb === undefined ? null : kb / 1024;
  }

  runPeakMb(name: string): number | null {
    const kb = this.runPeak.get(name);
    return kb === undefined ? null : kb / 1024;
  }

  /** CPU seconds `name` used since the stage began (up to the last sample). */
  stageCpuSeconds(name: string): number | null {
    const a = this.cpuAtStart.get(name);
    const b = this.cpuLast.get(name);
    return a === undefined || b === undefined ? null : b - a;
  }

  /** Seconds of the stage during which two or more workers were each busy (windows of BUSY_WINDOW_MS). */
  stageSideBySideSeconds(): number {
    return this.bothBusyMs / 1000;
  }
}
