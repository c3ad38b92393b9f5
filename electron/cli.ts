/**
 * `cnn-inspect`: the headless CLI over the same engine (DESIGN.md, "CLI contract"). JSON on stdout, arrays as
 * .npy, and for any bad input a one-line `error <CODE>: <message>` on stderr with a non-zero exit.
 */
import * as path from 'node:path';
import { InspectorError, toErrorInfo } from '../shared/errors';
import { makeJobContext } from './engine/analyses/job-context';
import { EngineCore } from './engine/core';
import { readFileBytes } from './engine/data/image';
import { writeNpy } from './engine/store/npy';

const USAGE = `cnn-inspect <command> [options]
  info        --model M [--backend]
  predict     --model M --image I [--top K]
  activations --model M --image I --layer L --out A.npy
  evaluate    --model M --data DIR [--limit N]
M: a TF.js Layers model.json (or its folder); "default" for the bundled model.
I: PNG/JPEG/WebP/TIFF/GIF, or a .npy float32 [H,W,C] used as the input tensor exactly.`;

type Flags = Record<string, string | true>;

function parseArgs(argv: string[]): { command?: string; flags: Flags } {
  const flags: Flags = {};
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const name = a.slice(2);
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) flags[name] = true;
      else {
        flags[name] = next;
        i++;
      }
    } else if (!command) command = a;
    else throw new InspectorError('BAD_ARGUMENT', `Unexpected argument "${a}"`);
  }
  return { command, flags };
}

function required(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.length === 0) throw new InspectorError('BAD_ARGUMENT', `--${name} is required`);
  return v;
}

function modelId(flags: Flags): string | undefined {
  const m = required(flags, 'model');
  return m === 'default' ? undefined : m;
}

function positiveInt(flags: Flags, name: string, fallback: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InspectorError('BAD_ARGUMENT', `--${name} must be a positive integer`);
  return n;
}

async function loadImage(core: EngineCore, flags: Flags) {
  const file = required(flags, 'image');
  await core.addUpload('cli', path.basename(file), readFileBytes(file));
  return { source: 'upload' as const, id: 'cli' };
}

export async function runCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const { command, flags } = parseArgs(argv);
  if (!command || command === 'help' || flags.help) {
    out(`${USAGE}\n`);
    return;
  }
  const known = ['info', 'predict', 'activations', 'evaluate'];
  if (!known.includes(command)) throw new InspectorError('UNKNOWN_COMMAND', `Unknown command "${command}" (known: ${known.join(', ')})`);
  const core = new EngineCore();
  const backend = await core.init();
  const summary = await core.openModel(modelId(flags));
  const print = (value: unknown) => out(`${JSON.stringify(value)}\n`);
  switch (command) {
    case 'info':
      print({
        name: summary.name,
        inputShape: summary.inputShape,
        ...(summary.classes ? { classes: summary.classes } : {}),
        layers: summary.layers.map((l) => ({ name: l.name, type: l.type, outputShape: l.outputShape, params: l.params })),
        ...(flags.backend ? { backend: backend.name, backendDetail: backend.detail } : {}),
      });
      return;
    case 'predict': {
      const image = await loadImage(core, flags);
      const result = await core.predict({ image, top: positiveInt(flags, 'top', 5) });
      print({ predictions: result.predictions });
      return;
    }
    case 'activations': {
      const layer = required(flags, 'layer');
      const outFile = required(flags, 'out');
      const image = await loadImage(core, flags);
      const maps = await core.activations({ image, layer });
      writeNpy(outFile, { shape: maps.shape, data: maps.data });
      print({ layer, shape: maps.shape, out: path.resolve(outFile), min: maps.min, max: maps.max });
      return;
    }
    case 'evaluate': {
      await core.openDataset(required(flags, 'data'));
      const limit = flags.limit === undefined ? undefined : positiveInt(flags, 'limit', 1);
      const ctx = makeJobContext(
        (done, total) => {
          if (flags.progress) process.stderr.write(`\r${done}/${total}`);
        },
        () => false,
      );
      const result = await core.runJob('evaluate', { limit }, ctx);
      print(result);
      return;
    }
  }
}

/** Entry point: runs the CLI on process.argv and exits with its status. */
export function cliMain(): void {
  runCli(process.argv.slice(2)).then(
    () => process.exit(0),
    (error) => {
      const info = toErrorInfo(error);
      process.stderr.write(`error ${info.code}: ${info.message.replace(/\s*\n\s*/g, ' ')}\n`);
      process.exit(info.code === 'UNKNOWN_COMMAND' || info.code === 'BAD_ARGUMENT' ? 2 : 1);
    },
  );
}

if (typeof require !== "undefined" && require.main === module) cliMain();
