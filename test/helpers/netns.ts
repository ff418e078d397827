/**
 * A private network of hosts for one test run (root only): one network namespace per host, each joined by a veth
 * link to a bridge in the root namespace, which also has an address on it (the test process is the client network).
 * Every name carries the test process's pid, so runs side by side never meet, and a run that died without tearing
 * down (SIGKILL, OOM) is recognised and removed by the next one.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Host {
  name: string;
  /** The network namespace (`ip netns`). */
  ns: string;
  ip: string;
}

export interface TestNet {
  /** `10.213.N.0/24` */
  subnet: string;
  /** The root namespace's (the test process's) address on the bridge. */
  clientIp: string;
  hosts: Record<string, Host>;
  /** spawnIn starts `cmd args` on the host (inHost): the child's pid is the command's. */
  spawnIn(host: Host, cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** runIn runs `cmd args` on the host and waits; throws with its output when it fails. */
  runIn(host: Host, cmd: string, args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv }): string;
  /** pids lists every process running in the host's namespace. */
  pids(host: Host): number[];
  /** killHost sends SIGKILL to every process of the host and waits until none is left; returns their pids. */
  killHost(host: Host): Promise<number[]>;
  teardown(): Promise<void>;
}

const NS_PREFIX = 'inflow-';
/** Interface names are at most 15 characters: `infl` + a pid (≤ 7 digits) + one letter. */
const BRIDGE_PREFIX = 'infl';

/** requireRoot fails with what to do: network namespaces need root (CI runs the tests as root). */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} builds network namespaces and needs root (CI runs as root): run \`sudo npx jest ${what}\``);
  }
}

/** ip runs iproute2 and returns its stdout; throws with its stderr. */
function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${r.stderr || r.error?.message}`);
  return r.stdout ?? '';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function nsPids(ns: string): number[] {
  return ip(['netns', 'pids', ns], true).split('\n').filter(Boolean).map(Number);
}

function killNs(ns: string): number[] {
  const pids = nsPids(ns);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** runTempDir makes a temp directory named for this run, so the next run removes it if this one dies first. */
export function runTempDir(what: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${NS_PREFIX}${process.pid}-${what}-`));
}

/** removeNet deletes the namespaces and the bridge of the run `pid` (their processes killed first). */
async function removeNet(pid: number): Promise<void> {
  const mine = ip(['netns', 'list'], true)
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n.startsWith(`${NS_PREFIX}${pid}-`));
  for (const ns of mine) killNs(ns);
  for (const ns of mine) {
    for (let i = 0; i < 50 && nsPids(ns).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    ip(['netns', 'del', ns], true); // its veth end goes with it, and so does the bridge's end
  }
  ip(['link', 'del', `${BRIDGE_PREFIX}${pid}`], true);
  for (const name of fs.readdirSync(os.tmpdir())) {
    if (name.startsWith(`${NS_PREFIX}${pid}-`)) fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
  }
}

/** removeStaleNets removes what earlier runs whose process is gone left behind. */
export async function removeStaleNets(): Promise<number[]> {
  const pids = new Set<number>();
  for (const line of ip(['netns', 'list'], true).split('\n')) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(line);
    if (m) pids.add(Number(m[1]));
  }
  for (const name of fs.readdirSync(os.tmpdir())) {
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (m) pids.add(Number(m[1]));
  }
  for (const line of ip(['-o', 'link', 'show', 'type', 'bridge'], true).split('\n')) {
    const m = new RegExp(`^\\d+: ${BRIDGE_PREFIX}(\\d+)[:@]`).exec(line);
    if (m) pids.add(Number(m[1]));
  }
  const stale = [...pids].filter((p) => p !== process.pid && !alive(p));
  for (const p of stale) await removeNet(p);
  return stale;
}

/** freeSubnet picks a 10.213.N.0/24 that no address or route of the root namespace uses, starting from the pid. */
function freeSubnet(): number {
  const used = ip(['-4', '-o', 'addr']) + ip(['-4', 'route', 'show', 'table', 'all']);
  for (let k = 0; k < 250; k++) {
    const n = ((process.pid + k) % 250) + 1;
    if (!used.includes(`10.213.${n}.`)) return n;
  }
  throw new Error('no free 10.213.N.0/24 subnet for the test network');
}

/**
 * inHost: the `ip` arguments that run `cmd args` as a process of `host`: in its network namespace, and in a UTS
 * namespace of its own whose hostname is the host's name (what the audit trail records as the host). Each step
 * execs the next: the process that runs `cmd` is the one spawned.
 */
function inHost(host: Host, cmd: string, args: string[]): string[] {
  return ['netns', 'exec', host.ns, 'unshare', '--uts', '--', 'sh', '-c', 'hostname "$0" && exec "$@"', host.name, cmd, ...args];
}

/**
 * buildNet makes the bridge, then for each host name a namespace whose `eth0` is on the bridge with address
 * `.10 + i` (and `lo` up). The root namespace is `.1`.
 */
export async function buildNet(names: string[]): Promise<TestNet> {
  await removeStaleNets();
  const pid = process.pid;
  const n = freeSubnet();
  const bridge = `${BRIDGE_PREFIX}${pid}`;
  const hosts: Record<string, Host> = {};
  const net: TestNet = {
    subnet: `10.213.${n}.0/24`,
    clientIp: `10.213.${n}.1`,
    hosts,
    spawnIn: (host, cmd, args, opts = {}) => spawn('ip', inHost(host, cmd, args), opts),
    runIn: (host, cmd, args, opts = {}) => {
      const r = spawnSync('ip', inHost(host, cmd, args), {
        encoding: 'utf8',
        input: opts.input,
        env: opts.env ?? process.env,
        timeout: 60_000,
      });
      if (r.status !== 0) throw new Error(`${host.name}: ${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}${r.stderr}`);
      return r.stdout;
    },
    pids: (host) => nsPids(host.ns),
    killHost: async (host) => {
      const killed = killNs(host.ns);
      for (let i = 0; i < 100 && nsPids(host.ns).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      const left = nsPids(host.ns);
      if (left.length) throw new Error(`${host.name}: processes ${left.join(', ')} survived SIGKILL`);
      return killed;
    },
    teardown: () => removeNet(pid),
  };
  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${net.clientIp}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    for (const [i, name] of names.entries()) {
      const host: Host = { name, ns: `${NS_PREFIX}${pid}-${name}`, ip: `10.213.${n}.${10 + i}` };
      const veth = `${BRIDGE_PREFIX}${pid}${String.fromCharCode(97 + i)}`;
      ip(['netns', 'add', host.ns]);
      ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      ip(['link', 'set', veth, 'master', bridge, 'up']);
      ip(['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
      hosts[name] = host;
    }
  } catch (err) {
    await net.teardown();
    throw err;
  }
  return net;
}
