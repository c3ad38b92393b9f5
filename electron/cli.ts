/**
 * `cnn-inspect`: the headless CLI over the same engine (docs/ARCHITECTURE.md, "The CLI contract"). JSON on stdout, arrays as
 * .npy, and for any bad input a one-line `error <CODE>: <message>` on stderr with a non-zero exit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AblationVariant, ExportFormat, FinetuneSummary, InvarianceResult, JobKind, JobParams, JobResults, ProbeAblation } from '../shared/contract';
import { InspectorError, toErrorInfo } from '../shared/errors';
import { makeJobContext, type JobContext } from './engine/base/job-context';
import { PR_RECALLS } from './engine/analyses/agrawal';
import { ABLATIONS } from './engine/analyses/probe';
import { PROJECTION_METHODS, type ProjectionMethod } from './engine/analyses/projection';
import { mergeTopK, type TopKIndex } from './engine/analyses/topk';
import { EngineCore } from './engine/core';
import { EXPORT_FORMATS, exportModelToPath } from './engine/model/export';
import { ENGINE_VERSION } from './engine/paths';
import { csvText, parseCsv } from '../shared/csv';
import { ablationTable, comparisonTable, correspondenceTable, distributedCodeTable, grandmotherCurvesTable, grandmotherTable, imagesPerClassTable, invarianceTable, probeTable, probeTrainingTable, selectivityTable, sparsityTable, type Table } from '../shared/result-tables';

const tableCsv = (t: Table): string => csvText(t.header, t.rows);
import { onnxRuntimeInstalled } from './engine/runtime/onnx-runtime';
import { readFileBytes } from './engine/data/image';
import { writeError, writeFileAtomic } from './engine/store/atomic';
import { MAX_LAYER_WIDTH, validateJobParams } from '../shared/param-checks';
import { writeNpy } from './engine/store/npy';
import { htmlToPdf } from './engine/store/pdf';
import { STRATEGIES, type Strategy } from './engine/train/finetune';
import { listUnfinishedRuns, runsRoot } from './engine/train/run-store';
import { activeZooCatalog, findZooEntry, parseZooCatalog } from './engine/zoo/catalog';
import { downloadZooModel, listZoo, zooModelState } from './engine/zoo/download';
import { readRegularFile } from './engine/store/safe-files';

const USAGE = `cnn-inspect <command> [options]
  info        --model M [--backend]
  predict     --model M --image I [--top K]
  activations --model M --image I --layer L --out A.npy
  evaluate    --model M --data DIR [--limit N]
  deconv      --model M --image I --layer L --unit U [--method deconv|gradient|guided] [--position y,x] --out P.npy
  occlusion   --model M --image I --patch P --stride S [--fill V] [--class K] [--layer L] --out-dir D
  invariance  --model M --data DIR [--images i,j,…] [--low L] [--high L] [--translations …] [--scales …] [--rotations …] --out R.csv
  evolution   --model M --data DIR [--layer L] [--units 0,1,…] --out-dir D
  correspondence --model M --data DIR --boxes B.csv [--layers L1,L2] [--random N] --out R.csv
              B.csv: image,part,top,left,bottom,right (image = path in DIR; a box per part per image)
  analyze sparsity    --model M --data DIR [--layers L1,L2] --out P.csv     (layer,mean_nonzero_pct,std_nonzero_pct)
  analyze selectivity --model M --data DIR --layer L --out S.csv           (unit,aue)
  analyze gmc         --model M --data DIR --layer L --out G.csv [--curves C.csv]   (class,unit,ap; C: precision–recall
                      curves of each class's top 5 units and 5 random units: class,curve,units,ap,recall,precision)
  analyze probe       --model M --data DIR --layers L1,L2 [--ablations original,binarised,shuffled,maxpool] [--seeds 3] --out P.csv
  analyze probe-training --model M --data DIR [--layers L1,L2] [--seeds 1] --out T.csv  (checkpoint,epoch,layer,accuracy,std)
  analyze compare     --model M --other M2 --data DIR [--layers L1,L2] [--no-selectivity] [--no-probe] --out C.csv
                      (layer,weight_change,aue_model,aue_other,probe_model,probe_other)
  analyze images-per-class --model M --data DIR [--counts 1,5,10] [--seeds 3] [--scratch [--scratch-seeds 1]] --out N.csv  (start,per_class,accuracy,std,runs)
  analyze distributed --model M --data DIR --layer L --out D.csv  (class,ap,k50,k90,then AP fraction per k)
  finetune    --model M --data DIR --strategy features|fc|all|scratch [--epochs 10] [--lr X] [--batch 32] [--seed 1] [--no-flip] [--no-early-stop] [--holdout 0.2] [--test 0.1] [--lr-mult conv1=0,conv5=0.5,new_classifier=1] [--no-crop] [--no-augment] [--optimizer sgd|adam] [--classifier softmax|svm] --out DIR
              Ctrl-C pauses (the run is saved in DIR after the current batch); a killed run keeps its last epoch.
  finetune    --resume DIR|RUN                             carry on a paused or interrupted run (a folder, or a run of the app)
  runs                                                     the app's unfinished fine-tuning runs (paused or interrupted)
  ablate      --model M --data DIR --variants "conv3+conv4; fc6+fc7; conv5=32" [--epochs 10] [--batch 32] [--seed 1] [--start scratch|pretrained] --out A.csv
              each variant: layers to remove, or layer=N to give it N filters/units (ZF Table 3)
  collect     --model M --data DIR --layers L1,L2 [--maps] [--float16] --out-dir D
              per layer L.max.npy (float32 [N, units], spatial max), L.nonzero.npy (int32 [N]), with --maps
              L.maps.npy ([N, …shape]); labels.npy (int32 [N]); reused by the analyze commands
  topk        --model M --data DIR --layer L [--k 9] --out-dir D [--shard i/n] [--no-patches]
  topk-merge  --parts D1,D2,… --out-dir D
  export      --model M --format onnx|tfjs --out PATH      (PATH: a .onnx file, or a folder for TF.js)
  check-data  --data DIR --out L.csv                       look-alike images within / across classes (group,class,file)
  report      --model M --data DIR [--layers L1,L2] [--gmc-layer L] [--probe-layers L1,L2] --out R.html [--pdf R.pdf]
              --pdf: printed by a Chromium-family browser if one is installed (CHROMIUM_PATH), else said so
  zoo list    [--mirror URL] [--catalog F]                  the model zoo's networks (AlexNet, ZFNet, VGG, GoogLeNet, ResNet…)
  zoo get NAME [--mirror URL] [--file F] [--progress]       download one (resumable; SHA-256 checked) or copy in one fetched by hand
M: an ONNX model (.onnx), a Keras model (.h5, .keras), a TF.js Layers model.json (or its folder); "default" for
   the bundled model; zoo:NAME for a downloaded zoo network (ImageNet labels and preprocessing already set).
I: PNG/JPEG/WebP/TIFF/GIF, or a .npy float32 [H,W,C] used as the input tensor exactly.`;

type Flags = Record<string, string | true>;

/**
 * A training job's context for the CLI: progress on stderr with --progress; Ctrl-C (or SIGTERM) pauses after the
 * current batch, saving the run; a second Ctrl-C quits at once (the last finished epoch is still saved).
 */
function trainingContext(flags: Flags): { ctx: JobContext; done(): void } {
  let pause = false;
  const onSignal = () => {
    if (pause) process.exit(130);
    pause = true;
    process.stderr.write('\nPausing after this batch… (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx = makeJobContext(
    (_done, _total, message) => {
      if (flags.progress) process.stderr.write(`\r${message}`);
    },
    () => false,
    undefined,
    () => pause,
  );
  return {
    ctx,
    done: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** A paused run's error says how to carry on. */
async function pausable<T>(run: Promise<T>, dir: string): Promise<T> {
  try {
    return await run;
  } catch (error) {
    const info = toErrorInfo(error);
    if (info.code === 'JOB_PAUSED') throw new InspectorError('JOB_PAUSED', `${info.message}: cnn-inspect finetune --resume ${JSON.stringify(dir)}`);
    throw error;
  }
}

function finetuneJson(r: FinetuneSummary) {
  return { strategy: r.strategy, classes: r.classes, train: r.trainImages, validation: r.validationImages, validation_accuracy: r.validationAccuracy, ...(r.testAccuracy !== undefined ? { test: r.testImages, test_accuracy: r.testAccuracy } : {}), reported_on: r.reportedOn, per_class: r.perClass, confusion: r.confusion, ...(r.bestEpoch !== undefined ? { best_epoch: r.bestEpoch, stopped_early: r.stoppedEarly } : {}), frozen: r.frozen, history: r.history, skipped: r.skipped, out: path.dirname(r.path), model_card: r.modelCard };
}

/** "conv1=0,conv5=0.5" → per-layer learning-rate multipliers. */
function parseMultipliers(spec: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of spec.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [name, value] = item.split('=');
    const factor = Number(value);
    if (!name || value === undefined || !Number.isFinite(factor)) throw new InspectorError('BAD_ARGUMENT', `--lr-mult: "${item}" must be layer=number`);
    out[name.trim()] = factor;
  }
  return out;
}

/** "conv3+conv4; fc6+fc7; conv5=32" → variants (a name removes the layer; name=N resizes it to N filters/units). */
function parseVariants(spec: string): AblationVariant[] {
  return spec
    .split(';')
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => {
      const remove: string[] = [];
      const resize: Record<string, number> = {};
      for (const item of v.split(/[+,]/).map((x) => x.trim()).filter(Boolean)) {
        const [name, size] = item.split('=');
        if (size === undefined) remove.push(name);
        else if (Number.isInteger(Number(size)) && Number(size) >= 1 && Number(size) <= MAX_LAYER_WIDTH) resize[name.trim()] = Number(size);
        else throw new InspectorError('BAD_ARGUMENT', `--variants: "${item}" must be a layer name or layer=N with N a whole number from 1 to ${MAX_LAYER_WIDTH}`);
      }
      return { name: v, ...(remove.length ? { remove } : {}), ...(Object.keys(resize).length ? { resize } : {}) };
    });
}

function parseArgs(argv: string[]): { command?: string; flags: Flags; rest: string[] } {
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

function required(flags: Flags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string' || v.length === 0) throw new InspectorError('BAD_ARGUMENT', `--${name} is required`);
  return v;
}

function modelId(flags: Flags): string | undefined {
  const m = required(flags, 'model');
  if (m.startsWith('zoo:')) {
    // A network of the model zoo, once `zoo get` has fetched it.
    const state = zooModelState(findZooEntry(m.slice(4)));
    if (state.state !== 'downloaded') throw new InspectorError('MODEL_NOT_FOUND', `${state.title} is not downloaded yet: run cnn-inspect zoo get ${state.name}`);
    return state.file;
  }
  return m === 'default' ? undefined : m;
}

/** `zoo list` and `zoo get NAME`: the model zoo's networks, fetched with progress on stderr; Ctrl-C keeps the part. */
async function runZoo(flags: Flags, rest: string[], out: (s: string) => void): Promise<void> {
  const options = { ...(typeof flags.mirror === 'string' ? { mirror: flags.mirror } : {}) };
  const catalog = typeof flags.catalog === 'string' ? parseZooCatalog(readRegularFile(flags.catalog, { maxBytes: 4 * 2 ** 20 }).toString('utf8')) : activeZooCatalog();
  const [action, name] = rest;
  if (action === 'list') {
    const listing = listZoo(catalog, options);
    out(`${JSON.stringify({ folder: listing.folder, mirror: listing.mirror, models: listing.models.map((m) => ({ name: m.name, title: m.title, mb: Math.round(m.bytes / 1e5) / 10, state: m.state, have: m.have, file: m.file, about: m.about })) })}\n`);
    return;
  }
  if (action !== 'get' || !name) throw new InspectorError('BAD_ARGUMENT', 'Usage: cnn-inspect zoo list | cnn-inspect zoo get NAME [--mirror URL] [--file F]');
  let cancelled = false;
  const onSignal = () => {
    cancelled = true;
  };
  process.on('SIGINT', onSignal);
  const ctx = makeJobContext((_d, _t, message) => flags.progress !== undefined && process.stderr.write(`\r${message}\x1b[K`), () => cancelled);
  try {
    const result = await downloadZooModel(findZooEntry(name, catalog), ctx, { ...options, ...(typeof flags.file === 'string' ? { from: flags.file } : {}) });
    if (flags.progress !== undefined) process.stderr.write('\n');
    out(`${JSON.stringify(result)}\n`);
  } finally {
    process.off('SIGINT', onSignal);
  }
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

/** A job the way the app runs it: its parameters checked, then through the engine's job registry and cache. */
function runJob<K extends JobKind>(core: EngineCore, kind: K, params: JobParams[K], ctx: JobContext = makeJobContext(() => undefined, () => false)): Promise<JobResults[K]> {
  validateJobParams(kind, params);
  return core.runJob(kind, params, ctx);
}

export async function runCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<void> {
  const { command, flags, rest } = parseArgs(argv);
  const analysisName = rest[0];
  if (!command || command === 'help' || flags.help) {
    out(`${USAGE}\n`);
    return;
  }
  const known = ['zoo', 'info', 'predict', 'activations', 'deconv', 'occlusion', 'invariance', 'evolution', 'correspondence', 'evaluate', 'analyze', 'finetune', 'runs', 'ablate', 'collect', 'topk', 'topk-merge', 'export', 'check-data', 'report'];
  if (!known.includes(command)) throw new InspectorError('UNKNOWN_COMMAND', `Unknown command "${command}" (known: ${known.join(', ')})`);
  if (command === 'zoo') return runZoo(flags, rest, out);
  if (command === 'topk-merge') {
    out(`${JSON.stringify(mergeAtlasFolders(required(flags, 'parts').split(','), required(flags, 'out-dir')))}\n`);
    return;
  }
  if (command === 'check-data') {
    const checker = new EngineCore();
    await checker.init();
    await checker.openDataset(required(flags, 'data'));
    const r = await checker.runJob('datasetReport', {}, makeJobContext(() => undefined, () => false));
    const outFile = required(flags, 'out');
    writeFileAtomic(outFile, csvText(['group', 'class', 'file'], r.lookalikes.flatMap((g, i) => g.files.map((f) => [i + 1, f.split('/')[0], f]))));
    out(`${JSON.stringify({ checked: r.checked, groups: r.lookalikes.length, across_classes: r.acrossClasses, validation_with_twin_in_training: r.validationWithTwinInTraining, unreadable: r.unreadable, out: path.resolve(outFile) })}\n`);
    return;
  }
  if (command === 'runs') {
    // The app's unfinished fine-tuning runs (paused, or interrupted), for resuming from here.
    out(`${JSON.stringify({ runs: listUnfinishedRuns().map((r) => ({ ...r, folder: path.join(runsRoot(), r.id) })) })}\n`);
    return;
  }
  if (command === 'finetune' && flags.resume !== undefined) {
    const named = required(flags, 'resume');
    // A folder, or the name of one of the app's runs (as `cnn-inspect runs` lists them).
    const dir = fs.existsSync(named) || named.includes('/') ? path.resolve(named) : path.join(runsRoot(), named);
    const resumer = new EngineCore();
    await resumer.init();
    const training = trainingContext(flags);
    try {
      out(`${JSON.stringify(finetuneJson(await pausable(resumer.resumeFinetune(dir, training.ctx), dir)))}\n`);
    } finally {
      training.done();
    }
    return;
  }
  const core = new EngineCore();
  const backend = await core.init();
  const summary = await core.openModel(modelId(flags));
  const print = (value: unknown) => out(`${JSON.stringify(value)}\n`);
  switch (command) {
    case 'report': {
      await core.openDataset(required(flags, 'data'));
      const list = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string).split(',') : undefined);
      const { html } = await core.runJob('report', { layers: list('layers'), gmcLayer: typeof flags['gmc-layer'] === 'string' ? flags['gmc-layer'] : undefined, probeLayers: list('probe-layers') }, makeJobContext(() => undefined, () => false));
      const outFile = required(flags, 'out');
      writeFileAtomic(outFile, html);
      const pdf = typeof flags.pdf === 'string' ? path.resolve(flags.pdf) : undefined;
      const pdfProblem = pdf ? htmlToPdf(outFile, pdf) : undefined;
      print({ out: path.resolve(outFile), bytes: Buffer.byteLength(html), ...(pdf ? (pdfProblem ? { pdf: null, pdf_not_made: pdfProblem } : { pdf }) : {}) });
      return;
    }
    case 'export': {
      const format = required(flags, 'format');
      if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new InspectorError('BAD_ARGUMENT', `--format must be one of ${EXPORT_FORMATS.join(', ')}`);
      const written = await exportModelToPath(core.requireModel(), format as ExportFormat, required(flags, 'out'), ENGINE_VERSION);
      print({ format, path: written });
      return;
    }
    case 'info':
      print({
        name: summary.name,
        format: summary.format,
        ...(summary.notices.length ? { notices: summary.notices } : {}),
        inputShape: summary.inputShape,
        ...(summary.classes ? { classes: summary.classes } : {}),
        layers: summary.layers.map((l) => ({ name: l.name, type: l.type, outputShape: l.outputShape, params: l.params, ...(l.macs ? { macs: l.macs } : {}) })),
        macs: summary.layers.reduce((sum, l) => sum + (l.macs ?? 0), 0),
        ...(flags.backend ? { backend: backend.name, backendDetail: backend.detail, batchEngine: onnxRuntimeInstalled() ? 'onnxruntime' : 'tfjs' } : {}),
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
    case 'deconv': {
      const layer = required(flags, 'layer');
      const unitText = required(flags, 'unit');
      const unit = Number(unitText);
      if (!Number.isInteger(unit)) throw new InspectorError('BAD_ARGUMENT', `--unit must be an integer, got "${unitText}"`);
      const method = (typeof flags.method === 'string' ? flags.method : 'deconv') as ProjectionMethod;
      if (!PROJECTION_METHODS.includes(method)) throw new InspectorError('BAD_ARGUMENT', `--method must be deconv, gradient or guided (got "${method}")`);
      let position: number[] | undefined;
      if (typeof flags.position === 'string') {
        position = flags.position.split(',').map(Number);
        if (position.length !== 2 || position.some((v) => !Number.isInteger(v))) throw new InspectorError('BAD_ARGUMENT', '--position must be y,x');
      }
      const outFile = required(flags, 'out');
      const image = await loadImage(core, flags);
      const p = await core.project({ image, layer, unit, method, position });
      writeNpy(outFile, { shape: p.shape, data: p.data });
      print({ layer, unit, method, position: p.position, value: p.value, shape: p.shape, out: path.resolve(outFile) });
      return;
    }
    case 'occlusion': {
      const integer = (name: string) => {
        const v = Number(required(flags, name));
        if (!Number.isInteger(v)) throw new InspectorError('BAD_ARGUMENT', `--${name} must be a whole number`);
        return v;
      };
      const patch = integer('patch');
      const stride = integer('stride');
      const fill = flags.fill === undefined ? undefined : Number(flags.fill);
      if (fill !== undefined && !Number.isFinite(fill)) throw new InspectorError('BAD_ARGUMENT', '--fill must be a number');
      const classIndex = flags.class === undefined ? undefined : integer('class');
      const outDir = required(flags, 'out-dir');
      const image = await loadImage(core, flags);
      const r = await runJob(core, 'occlusion', { image, patch, stride, fill, classIndex, layer: typeof flags.layer === 'string' ? flags.layer : undefined });
      writeNpy(path.join(outDir, 'probability.npy'), { shape: r.grid, data: r.probability });
      writeNpy(path.join(outDir, 'top_label.npy'), { shape: r.grid, data: r.topLabel });
      writeNpy(path.join(outDir, 'feature.npy'), { shape: r.grid, data: r.feature });
      print({ class: r.classIndex, label: summary.classes?.[r.classIndex], base_probability: r.baseProbability, feature_layer: r.featureLayer, feature_unit: r.featureUnit, grid: r.grid, out_dir: path.resolve(outDir) });
      return;
    }
    case 'invariance': {
      await core.openDataset(required(flags, 'data'));
      const list = (name: string, integer = false) => {
        const v = flags[name];
        if (v === undefined) return undefined;
        if (typeof v !== 'string') throw new InspectorError('BAD_ARGUMENT', `--${name} needs a comma-separated list`);
        const numbers = v.split(',').map(Number);
        if (numbers.some((n) => !Number.isFinite(n) || (integer && !Number.isInteger(n)))) throw new InspectorError('BAD_ARGUMENT', `--${name} must be a comma-separated list of numbers`);
        return numbers;
      };
      const outFile = required(flags, 'out');
      const r = await runJob(
        core,
        'invariance',
        {
          images: list('images', true),
          lowLayer: typeof flags.low === 'string' ? flags.low : undefined,
          highLayer: typeof flags.high === 'string' ? flags.high : undefined,
          translations: list('translations'),
          scales: list('scales'),
          rotations: list('rotations'),
        },
        makeJobContext(() => undefined, () => false),
      );
      writeFileAtomic(outFile, invarianceCsv(r));
      print({ low_layer: r.lowLayer, high_layer: r.highLayer, images: r.images.map((i) => i.label), out: path.resolve(outFile) });
      return;
    }
    case 'evolution': {
      await core.openDataset(required(flags, 'data'));
      const outDir = required(flags, 'out-dir');
      let units: number[] | undefined;
      if (typeof flags.units === 'string') {
        units = flags.units.split(',').map(Number);
        if (units.some((u) => !Number.isInteger(u))) throw new InspectorError('BAD_ARGUMENT', '--units must be a comma-separated list of unit numbers');
      }
      const r = await core.runJob('evolution', { layer: typeof flags.layer === 'string' ? flags.layer : undefined, units }, makeJobContext(() => undefined, () => false));
      const cells = r.cells.map((cell) => {
        const base = `unit${cell.unit}_${cell.checkpoint}`;
        fs.mkdirSync(outDir, { recursive: true });
        fs.writeFileSync(path.join(outDir, `${base}_projection.png`), cell.projection);
        fs.writeFileSync(path.join(outDir, `${base}_patch.png`), cell.patch);
        return { checkpoint: cell.checkpoint, unit: cell.unit, image: cell.image, value: cell.value, position: cell.position, projection: `${base}_projection.png`, patch: `${base}_patch.png` };
      });
      const index = { layer: r.layer, units: r.units, checkpoints: r.checkpoints, cells };
      writeFileAtomic(path.join(outDir, 'index.json'), JSON.stringify(index));
      print({ layer: r.layer, units: r.units, checkpoints: r.checkpoints, out: path.resolve(outDir, 'index.json') });
      return;
    }
    case 'correspondence': {
      await core.openDataset(required(flags, 'data'));
      const { images, parts } = readBoxesCsv(required(flags, 'boxes'), core.listImages({ offset: 0, limit: Number.MAX_SAFE_INTEGER }).images);
      const draws = flags.random === undefined ? undefined : positiveInt(flags, 'random', 5);
      const r = await core.runJob(
        'correspondence',
        { images, parts, layers: typeof flags.layers === 'string' ? flags.layers.split(',') : undefined, randomDraws: draws },
        makeJobContext(() => undefined, () => false),
      );
      const outFile = required(flags, 'out');
      writeFileAtomic(outFile, tableCsv(correspondenceTable(r)));
      print({ layers: r.layers, images: r.images, rows: r.rows, out: path.resolve(outFile) });
      return;
    }
    case 'analyze': {
      const what = analysisName;
      const analyses = ['sparsity', 'selectivity', 'gmc', 'probe', 'probe-training', 'compare', 'images-per-class', 'distributed'];
      if (!what || !analyses.includes(what)) throw new InspectorError('UNKNOWN_COMMAND', `analyze needs one of ${analyses.join(', ')}${what ? ` (got "${what}")` : ''}`);
      await core.openDataset(required(flags, 'data'));
      const outFile = required(flags, 'out');
      const quiet = makeJobContext(() => undefined, () => false);
      if (what === 'sparsity') {
        const { rows, skipped } = await runJob(core, 'sparsity', { layers: typeof flags.layers === 'string' ? flags.layers.split(',') : undefined }, quiet);
        writeFileAtomic(outFile, tableCsv(sparsityTable({ rows })));
        print({ analysis: what, rows, skipped, out: path.resolve(outFile) });
      } else if (what === 'selectivity') {
        const layer = required(flags, 'layer');
        const { aue } = (await runJob(core, 'selectivity', { layers: [layer] }, quiet)).layers[0];
        writeFileAtomic(outFile, tableCsv(selectivityTable([{ layer, aue }], false)));
        const sorted = [...aue].sort((a, b) => a - b);
        print({ analysis: what, layer, units: aue.length, mean_aue: aue.reduce((s, v) => s + v, 0) / aue.length, most_selective: sorted.slice(0, 5), out: path.resolve(outFile) });
      } else if (what === 'distributed') {
        const r = await core.runJob('distributedCode', { layer: required(flags, 'layer') }, quiet);
        writeFileAtomic(outFile, tableCsv(distributedCodeTable(r)));
        const offDiagonal = r.overlap.flatMap((row, i) => row.filter((_, j) => j !== i));
        print({ analysis: what, layer: r.layer, units: r.units, set_size: r.setSize, chance_overlap: r.chanceOverlap, mean_overlap: offDiagonal.reduce((a, b) => a + b, 0) / Math.max(1, offDiagonal.length), classes: r.classes.map((c) => ({ class: c.name, ap: c.ap, k50: c.k50, k90: c.k90 })), out: path.resolve(outFile) });
      } else if (what === 'images-per-class') {
        const counts = typeof flags.counts === 'string' ? flags.counts.split(',').map(Number) : undefined;
        if (counts?.some((k) => !Number.isInteger(k) || k < 1)) throw new InspectorError('BAD_ARGUMENT', '--counts are whole numbers of images per class');
        const r = await core.runJob('imagesPerClass', { ...(counts ? { counts } : {}), seeds: positiveInt(flags, 'seeds', 3), ...(flags.scratch ? { scratch: true, scratchSeeds: positiveInt(flags, 'scratch-seeds', 1) } : {}) }, quiet);
        writeFileAtomic(outFile, tableCsv(imagesPerClassTable(r)));
        print({ analysis: what, feature_layer: r.featureLayer, validation: r.validationImages, rows: r.rows, ...(r.scratchRows ? { scratch_rows: r.scratchRows } : {}), out: path.resolve(outFile) });
      } else if (what === 'compare') {
        const other = required(flags, 'other');
        const r = await core.runJob('compareModels', { other: other === 'default' ? 'bundled:default' : other, ...(typeof flags.layers === 'string' ? { layers: flags.layers.split(',') } : {}), selectivity: !flags['no-selectivity'], probes: !flags['no-probe'] }, quiet);
        writeFileAtomic(outFile, tableCsv(comparisonTable(r)));
        print({ analysis: what, model: r.model, other: r.other, rows: r.rows, only_in_model: r.onlyInModel, only_in_other: r.onlyInOther, out: path.resolve(outFile) });
      } else if (what === 'probe-training') {
        const r = await core.runJob('probeTraining', { ...(typeof flags.layers === 'string' ? { layers: flags.layers.split(',') } : {}), seeds: positiveInt(flags, 'seeds', 1) }, quiet);
        writeFileAtomic(outFile, tableCsv(probeTrainingTable(r)));
        print({ analysis: what, checkpoints: r.checkpoints, layers: r.layers, converged_at: r.convergedAt, out: path.resolve(outFile) });
      } else if (what === 'probe') {
        const ablations = typeof flags.ablations === 'string' ? (flags.ablations.split(',') as ProbeAblation[]) : undefined;
        if (ablations?.some((a) => !ABLATIONS.includes(a))) throw new InspectorError('BAD_ARGUMENT', `--ablations are ${ABLATIONS.join(', ')}`);
        const { rows } = await core.runJob('probe', { layers: required(flags, 'layers').split(','), ablations, seeds: positiveInt(flags, 'seeds', 3) }, quiet);
        writeFileAtomic(outFile, tableCsv(probeTable(rows)));
        print({ analysis: what, rows, out: path.resolve(outFile) });
      } else {
        const layer = required(flags, 'layer');
        const { ap, classes, curves } = await runJob(core, 'gmc', { layer }, quiet);
        writeFileAtomic(outFile, tableCsv(grandmotherTable({ classes, ap })));
        const curvesFile = typeof flags.curves === 'string' ? flags.curves : undefined;
        if (curvesFile) {
          // Long format, one row per recall level: the class's best units by AP, then the random-unit baseline.
          writeFileAtomic(curvesFile, tableCsv(grandmotherCurvesTable({ classes, recalls: PR_RECALLS, curves })));
        }
        const best = ap.map((perUnit, c) => {
          const u = perUnit.indexOf(Math.max(...perUnit));
          return { class: classes[c], unit: u, ap: perUnit[u] };
        });
        print({ analysis: what, layer, best_unit_per_class: best, out: path.resolve(outFile), ...(curvesFile ? { curves: path.resolve(curvesFile) } : {}) });
      }
      return;
    }
    case 'finetune': {
      const strategy = required(flags, 'strategy') as Strategy;
      if (!STRATEGIES.includes(strategy)) throw new InspectorError('BAD_ARGUMENT', `--strategy must be one of ${STRATEGIES.join(', ')}`);
      await core.openDataset(required(flags, 'data'));
      const outDir = path.resolve(required(flags, 'out'));
      const lr = flags.lr === undefined ? undefined : Number(flags.lr);
      if (lr !== undefined && !(lr > 0)) throw new InspectorError('BAD_ARGUMENT', '--lr must be a positive number');
      const training = trainingContext(flags);
      try {
        const r = await pausable(
          core.finetuneAndSave(
            { strategy, epochs: positiveInt(flags, 'epochs', 10), batchSize: positiveInt(flags, 'batch', 32), learningRate: lr, seed: positiveInt(flags, 'seed', 1), flip: !flags['no-flip'], earlyStopping: !flags['no-early-stop'], ...(typeof flags.holdout === 'string' ? { validationFraction: Number(flags.holdout) } : {}), ...(typeof flags.test === 'string' ? { testFraction: Number(flags.test) } : {}), ...(typeof flags['lr-mult'] === 'string' ? { layerMultipliers: parseMultipliers(flags['lr-mult']) } : {}), ...(flags['no-augment'] ? { augment: false } : {}), ...(flags['no-crop'] ? { crop: false } : {}), ...(flags.optimizer === 'adam' || flags.optimizer === 'sgd' ? { optimizer: flags.optimizer } : {}), ...(flags.classifier === 'svm' || flags.classifier === 'softmax' ? { classifier: flags.classifier } : {}) },
            outDir,
            training.ctx,
          ),
          outDir,
        );
        print(finetuneJson(r));
      } finally {
        training.done();
      }
      return;
    }
    case 'collect': {
      await core.openDataset(required(flags, 'data'));
      const layers = required(flags, 'layers').split(',');
      const outDir = path.resolve(required(flags, 'out-dir'));
      const progress = makeJobContext(
        (_done, _total, message) => {
          if (flags.progress) process.stderr.write(`\r${message}`);
        },
        () => false,
      );
      const r = await core.runJob('collectActivations', { layers, maps: Boolean(flags.maps), ...(flags.float16 ? { mapsDtype: 'float16' as const } : flags.maps ? { mapsDtype: 'float32' as const } : {}) }, progress);
      fs.mkdirSync(outDir, { recursive: true });
      // Hard links where the workspace is on the same disk (no copy of big maps), else copies.
      const place = (file: string) => {
        const target = path.join(outDir, path.basename(file));
        fs.rmSync(target, { force: true });
        try {
          fs.linkSync(file, target);
        } catch {
          fs.copyFileSync(file, target);
        }
        return target;
      };
      print({
        images: r.images,
        labels: place(r.labels),
        layers: r.layers.map((l) => ({ layer: l.layer, shape: l.shape, max: place(l.max), nonzero: place(l.nonzero), ...(l.maps ? { maps: place(l.maps), maps_dtype: l.mapsDtype } : {}), ...(l.mapsSkipped ? { maps_skipped: l.mapsSkipped } : {}) })),
        skipped: r.skipped,
        out_dir: outDir,
      });
      return;
    }
    case 'ablate': {
      await core.openDataset(required(flags, 'data'));
      const outFile = required(flags, 'out');
      const start = flags.start === undefined ? undefined : flags.start;
      if (start !== undefined && start !== 'scratch' && start !== 'pretrained') throw new InspectorError('BAD_ARGUMENT', '--start must be scratch or pretrained');
      const r = await core.runJob(
        'ablation',
        { variants: parseVariants(required(flags, 'variants')), epochs: positiveInt(flags, 'epochs', 10), batchSize: positiveInt(flags, 'batch', 32), seed: positiveInt(flags, 'seed', 1), ...(start ? { start } : {}) },
        makeJobContext(
          (_done, _total, message) => {
            if (flags.progress) process.stderr.write(`\r${message}`);
          },
          () => false,
        ),
      );
      writeFileAtomic(outFile, tableCsv(ablationTable(r)));
      print({ classes: r.classes, train: r.trainImages, validation: r.validationImages, epochs: r.epochs, start: r.start, rows: r.rows.map(({ history: _h, ...row }) => row), skipped: r.skipped, out: path.resolve(outFile) });
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
      const { outcomes, ...result } = await core.runJob('evaluate', { limit }, ctx);
      // Per-image outcomes only on request: they are as long as the dataset.
      print(flags.outcomes ? { ...result, outcomes } : result);
      return;
    }
    case 'topk': {
      const dataset = await core.openDataset(required(flags, 'data'));
      const outDir = required(flags, 'out-dir');
      const shard = typeof flags.shard === 'string' ? parseShard(flags.shard) : undefined;
      const [index] = await core.buildTopK(
        { layers: [required(flags, 'layer')], k: positiveInt(flags, 'k', 9), shard, outDir, writePatches: !flags['no-patches'] },
        makeJobContext(
          (done, total) => {
            if (flags.progress) process.stderr.write(`\r${done}/${total}`);
          },
          () => false,
        ),
      );
      writeFileAtomic(path.join(outDir, 'index.json'), JSON.stringify(index));
      print({ layer: index.layer, k: index.k, units: index.units.length, images: index.images, dataset: dataset.name, out: path.resolve(outDir, 'index.json'), skipped: index.skipped });
      return;
    }
  }
}

/** CSV rows image,label,transform,value,low_distance,high_distance,probability. */
function invarianceCsv(r: InvarianceResult): string {
  return tableCsv(invarianceTable(r));
}

/** Reads image,part,top,left,bottom,right rows; every part needs one box on every image. */
function readBoxesCsv(file: string, entries: Array<{ index: number; file: string }>) {
  if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No boxes file at ${file}`);
  const lines = parseCsv(fs.readFileSync(file, 'utf8')).filter((cells) => !/^image$/i.test(cells[0]?.trim() ?? ''));
  const images: number[] = [];
  const boxes = new Map<string, Map<number, [number, number, number, number]>>();
  for (const [n, row] of lines.entries()) {
    const cells = row.map((s) => s.trim());
    const numbers = cells.slice(2).map(Number);
    if (cells.length !== 6 || numbers.some((v) => !Number.isInteger(v))) throw new InspectorError('BAD_ARGUMENT', `${file} line ${n + 1}: expected image,part,top,left,bottom,right`);
    const entry = entries.find((e) => e.file === cells[0]);
    if (!entry) throw new InspectorError('IMAGE_NOT_FOUND', `${file} line ${n + 1}: no image "${cells[0]}" in the dataset`);
    if (!images.includes(entry.index)) images.push(entry.index);
    if (!boxes.has(cells[1])) boxes.set(cells[1], new Map());
    boxes.get(cells[1])!.set(entry.index, numbers as [number, number, number, number]);
  }
  const parts = [...boxes.entries()].map(([name, byImage]) => {
    const missing = images.filter((i) => !byImage.has(i));
    if (missing.length) throw new InspectorError('BAD_ARGUMENT', `Part "${name}" has no box on ${missing.length} of the images`);
    return { name, boxes: images.map((i) => byImage.get(i)!) };
  });
  return { images, parts };
}

function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) throw new InspectorError('BAD_ARGUMENT', `--shard must look like i/n (e.g. 0/4), got "${text}"`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** Merges shard atlases (folders with index.json and patches/) into one folder, copying the winners' patches. */
function mergeAtlasFolders(parts: string[], outDir: string): { layer: string; k: number; images: number; out: string } {
  const indexes = parts.map((dir) => {
    const file = path.join(dir, 'index.json');
    if (!fs.existsSync(file)) throw new InspectorError('FILE_NOT_FOUND', `No atlas index at ${file}`);
    const index = JSON.parse(fs.readFileSync(file, 'utf8')) as TopKIndex;
    for (const unit of index.units) for (const e of unit.top) if (e.patch) e.patch = path.resolve(dir, e.patch);
    return index;
  });
  const merged = mergeTopK(indexes);
  for (const unit of merged.units)
    for (const e of unit.top)
      if (e.patch) {
        const rel = path.posix.join('patches', merged.layer, `unit${unit.unit}_top${unit.top.indexOf(e) + 1}.png`);
        fs.mkdirSync(path.dirname(path.join(outDir, rel)), { recursive: true });
        fs.copyFileSync(e.patch, path.join(outDir, rel) + '.tmp');
        e.patch = rel;
      }
  // Second pass renames, so a patch copied from a folder that is also the output is never overwritten mid-merge.
  for (const unit of merged.units) for (const e of unit.top) if (e.patch) fs.renameSync(path.join(outDir, e.patch) + '.tmp', path.join(outDir, e.patch));
  writeFileAtomic(path.join(outDir, 'index.json'), JSON.stringify(merged));
  return { layer: merged.layer, k: merged.k, images: merged.images, out: path.resolve(outDir, 'index.json') };
}

/** Entry point: runs the CLI on process.argv and exits with its status. */
export function cliMain(): void {
  runCli(process.argv.slice(2)).then(
    () => process.exit(0),
    (error) => {
      // A folder or file the CLI could not create for --out / --out-dir (an errno error with the path).
      const errno = error as NodeJS.ErrnoException;
      const info = toErrorInfo(errno?.syscall && errno.path && ['mkdir', 'open', 'write', 'rename', 'copyfile'].includes(errno.syscall) ? writeError(error, errno.path) : error);
      process.stderr.write(`error ${info.code}: ${info.message.replace(/\s*\n\s*/g, ' ')}\n`);
      process.exit(info.code === 'UNKNOWN_COMMAND' || info.code === 'BAD_ARGUMENT' ? 2 : 1);
    },
  );
}

if (typeof require !== "undefined" && require.main === module) cliMain();
