/**
 * `cnn-inspect`: the headless CLI over the same engine (docs/ARCHITECTURE.md, "The CLI contract"). JSON on stdout,
 * arrays as .npy, and for any bad input a one-line `error <CODE>: <message>` on stderr with a non-zero exit.
 * One file per command under cli/commands/; the analyses go through the same job path (checks, registry, cache)
 * as the app.
 */
import { InspectorError, toErrorInfo } from '../../shared/errors';
import { parseArgs, modelId, type CommandContext, type Flags } from './args';
import { runAblate } from './commands/ablate';
import { runAtlas } from './commands/atlas';
import { runActivations } from './commands/activations';
import { runAnalyze } from './commands/analyze';
import { runCollect, runCollectMerge } from './commands/collect';
import { runCorrespondence } from './commands/correspondence';
import { runDeconv } from './commands/deconv';
import { runEvaluate } from './commands/evaluate';
import { runEvolution } from './commands/evolution';
import { runExport } from './commands/export';
import { runFinetune, runResume } from './commands/finetune';
import { runInfo } from './commands/info';
import { runInvariance } from './commands/invariance';
import { runOcclusion } from './commands/occlusion';
import { runPredict } from './commands/predict';
import { runReport } from './commands/report';
import { runTopk } from './commands/topk';
import { runCheckData } from './commands/check-data';
import { runRuns } from './commands/runs';
import { runTopkMerge } from './commands/topk-merge';
import { USAGE } from './usage';
import { runZoo } from './zoo';
import { EngineCore } from '../engine/core';
import { writeError } from '../engine/files/atomic';

type Out = (text: string) => void;

/** Commands that need no model open. */
const WITHOUT_MODEL: Record<string, (flags: Flags, rest: string[], out: Out) => Promise<void>> = {
  zoo: runZoo,
  'topk-merge': runTopkMerge,
  'check-data': (flags, _rest, out) => runCheckData(flags, out),
  runs: (_flags, _rest, out) => runRuns(out),
};

/** Commands on the model `--model` names. */
const WITH_MODEL: Record<string, (cx: CommandContext) => Promise<void>> = {
  report: runReport,
  export: runExport,
  info: runInfo,
  predict: runPredict,
  activations: runActivations,
  deconv: runDeconv,
  occlusion: runOcclusion,
  invariance: runInvariance,
  evolution: runEvolution,
  correspondence: runCorrespondence,
  analyze: runAnalyze,
  finetune: runFinetune,
  collect: runCollect,
  'collect-merge': runCollectMerge,
  ablate: runAblate,
  evaluate: runEvaluate,
  topk: runTopk,
  atlas: runAtlas,
};

export async function runCli(argv: string[], out: Out = (s) => process.stdout.write(s)): Promise<void> {
  const { command, flags, rest } = parseArgs(argv);
  if (!command || command === 'help' || flags.help) {
    out(`${USAGE}\n`);
    return;
  }
  const known = [...Object.keys(WITHOUT_MODEL), ...Object.keys(WITH_MODEL)];
  if (!known.includes(command)) throw new InspectorError('UNKNOWN_COMMAND', `Unknown command "${command}" (known: ${known.join(', ')})`);
  if (WITHOUT_MODEL[command]) return WITHOUT_MODEL[command](flags, rest, out);
  if (command === 'finetune' && flags.resume !== undefined) return runResume(flags, out);
  const core = new EngineCore();
  const backend = await core.init();
  const summary = await core.openModel(modelId(flags));
  await WITH_MODEL[command]({ core, backend, summary, flags, analysisName: rest[0], print: (value) => out(`${JSON.stringify(value)}\n`), out });
}

/** Entry point: runs the CLI on process.argv and exits with its status. */
export function cliMain(): void {
  runCli(process.argv.slice(2)).then(
    () => process.exit(0),
    (error) => {
      // A folder or file the CLI could not create for --out / --out-dir (an errno error with the path).
      const errno = error as NodeJS.ErrnoException;
      const info = toErrorInfo(
        errno?.syscall && errno.path && ['mkdir', 'open', 'write', 'rename', 'copyfile'].includes(errno.syscall) ? writeError(error, errno.path) : error,
      );
      process.stderr.write(`error ${info.code}: ${info.message.replace(/\s*\n\s*/g, ' ')}\n`);
      // 130: what a shell reports for a program ended by Ctrl-C.
      process.exit(info.code === 'UNKNOWN_COMMAND' || info.code === 'BAD_ARGUMENT' ? 2 : info.code === 'JOB_CANCELLED' ? 130 : 1);
    },
  );
}

if (typeof require !== 'undefined' && require.main === module) cliMain();
