/** The CLI's flags (parsed, required, numbers, model names, lists) and what every command is given. */
import type { AblationVariant, ModelSummary } from '../../shared/contract';
import { InspectorError } from '../../shared/errors';
import { MAX_LAYER_WIDTH } from '../../shared/param-checks';
import type { BackendChoice } from '../engine/backend';
import type { EngineCore } from '../engine/core';
import { findZooEntry } from '../engine/zoo/catalog';
import { zooModelState } from '../engine/zoo/download';

export type Flags = Record<string, string | true>;

/** What every command gets: the engine with the model open, how to print, the flags. */
export interface CommandContext {
  core: EngineCore;
  backend: BackendChoice;
  summary: ModelSummary;
  flags: Flags;
  /** The analysis named after `analyze`. */
  analysisName?: string;
  print(value: unknown): void;
  out(text: string): void;
}

export function parseArgs(argv: string[]): { command?: string; flags: Flags; rest: string[] } {
  const flags: Flags = {};
  const rest: string[] = [];
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
    else if ((command === 'analyze' && rest.length === 0) || (command === 'zoo' && rest.length < 2)) rest.push(a);
    else throw new InspectorError('BAD_ARGUMENT', `Unexpected argument "${a}"`);
  }
  return { command, flags, rest };
}

export function required(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.length === 0) throw new InspectorError('BAD_ARGUMENT', `--${name} is required`);
  return v;
}

export function positiveInt(flags: Flags, name: string, fallback: number): number {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InspectorError('BAD_ARGUMENT', `--${name} must be a positive integer`);
  return n;
}

export function modelId(flags: Flags): string | undefined {
  const m = required(flags, 'model');
  if (m.startsWith('zoo:')) {
    // A network of the model zoo, once `zoo get` has fetched it.
    const state = zooModelState(findZooEntry(m.slice(4)));
    if (state.state !== 'downloaded')
      throw new InspectorError('MODEL_NOT_FOUND', `${state.title} is not downloaded yet: run cnn-inspect zoo get ${state.name}`);
    return state.file;
  }
  return m === 'default' ? undefined : m;
}

export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new InspectorError('BAD_ARGUMENT', `--shard must look like i/n (e.g. 0/4), got "${text}"`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** "conv1=0,conv5=0.5" → per-layer learning-rate multipliers. */
export function parseMultipliers(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of spec
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const [name, value] = item.split('=');
    const factor = Number(value);
    if (!name || value === undefined || !Number.isFinite(factor)) throw new InspectorError('BAD_ARGUMENT', `--lr-mult: "${item}" must be layer=number`);
    out[name.trim()] = factor;
  }
  return out;
}

/** "conv3+conv4; fc6+fc7; conv5=32" → variants (a name removes the layer; name=N resizes it to N filters/units). */
export function parseVariants(spec: string): AblationVariant[] {
  return spec
    .split(';')
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => {
      const remove: string[] = [];
      const resize: Record<string, number> = {};
      for (const item of v
        .split(/[+,]/)
        .map((x) => x.trim())
        .filter(Boolean)) {
        const [name, size] = item.split('=');
        if (size === undefined) remove.push(name);
        else if (Number.isInteger(Number(size)) && Number(size) >= 1 && Number(size) <= MAX_LAYER_WIDTH) resize[name.trim()] = Number(size);
        else
          throw new InspectorError('BAD_ARGUMENT', `--variants: "${item}" must be a layer name or layer=N with N a whole number from 1 to ${MAX_LAYER_WIDTH}`);
      }
      return { name: v, ...(remove.length ? { remove } : {}), ...(Object.keys(resize).length ? { resize } : {}) };
    });
}
