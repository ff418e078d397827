/** The `inflow` command: parse, dispatch to one module per subcommand, exit through one place. */
import { Command, CommanderError } from 'commander';
import { registerServe } from './serve';
import { registerWorker } from './worker';
import { registerAccounts } from './accounts';
import { registerFiles } from './files';
import { registerReplay } from './replay';
import { registerVehicles } from './vehicles';
import { registerLabel } from './label';
import { registerReport } from './report';
import { registerUpload } from './upload';
import { registerCorrections } from './corrections';
import { registerAudit } from './audit';
import { failWith } from './exit';

export function buildProgram(): Command {
  const program = new Command('inflow')
    .description('odo-inflow: odometer readings intake (FTPS batch files → checks → registry → receipts)')
    .version(require('../../package.json').version)
    .exitOverride()
    .showHelpAfterError();
  registerServe(program);
  registerWorker(program);
  registerAccounts(program);
  registerFiles(program);
  registerReplay(program);
  registerVehicles(program);
  registerLabel(program);
  registerReport(program);
  registerUpload(program);
  registerCorrections(program);
  registerAudit(program);
  // Sub-commands inherit exitOverride so usage errors reach the one exit below.
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not errors; anything else commander reports is a usage error (exit 2, docs/cli.md)
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') process.exit(0);
      process.exit(2);
    }
    failWith(err);
  }
}

void main(process.argv);
