/**
 * Job kinds by registry: one descriptor per kind of the contract's JobParams (the mapped type makes a missing
 * kind a compile error) — how it runs (on the engine's open model and dataset, through its analysis module) and
 * whether its result is cached. Its parameters are checked before, in shared/param-checks.ts (on the main thread,
 * before any worker is asked).
 */
import * as path from 'node:path';
import type { FinetuneSummary, ImageRef, InvarianceParams, InvarianceResult, JobKind, JobParams, JobResults, SelectivityResult } from '../../shared/contract';
import { cumulativeAue, grandmotherCells, PR_RECALLS, selectivityOfLayers, sparsity } from './analyses/selectivity';
import { buildAtlas } from './analyses/atlas';
import { collectActivations, describeActivations } from './features/collect';
import { correspondence } from './analyses/correspondence';
import { evaluateModel } from './analyses/evaluate';
import { featureEvolution } from './analyses/evolution';
import type { JobContext } from './base/job-context';
import { compareModels } from './analyses/compare-models';
import { datasetReport } from './analyses/dataset-report';
import { distributedCode } from './analyses/distributed-code';
import { buildReport } from './analyses/report';
import { imagesPerClassCurve } from './train/images-per-class';
import { linearProbes } from './analyses/probe';
import { probeOverTraining } from './analyses/probe-training';
import { resolveModelJsonPath } from './model/tfjs-io';
import { resolveModelPath } from './paths';
import { architectureAblation } from './train/ablation';
import { runDir, runsRoot } from './train/run-store';
import { findZooEntry } from './zoo/catalog';
import type { Dataset } from './data/dataset';
import type { LoadedModel } from './model/loaded-model';
import type { OcclusionOptions, OcclusionResult } from './analyses/occlusion';
import { stamp } from './files/workspace';
import type { FinetuneOptions } from './train/finetune';
import { downloadZooModel } from './zoo/download';

/** What a job runs against: the engine's open model and dataset and the few session operations jobs share. */
export interface JobHost {
  requireModel(): LoadedModel;
  requireDataset(): Dataset;
  modelInput(image: ImageRef): Promise<{ input: Float32Array; trueClass?: number }>;
  /** Another job, through the same cache (the report is made of others). */
  runJob<K extends JobKind>(kind: K, params: JobParams[K], ctx: JobContext): Promise<JobResults[K]>;
  atlasDir(): string;
  occlusion(image: ImageRef, options: OcclusionOptions, ctx: JobContext): Promise<OcclusionResult>;
  invariance(params: InvarianceParams, ctx: JobContext): Promise<InvarianceResult>;
  finetuneAndSave(options: FinetuneOptions, dir: string, ctx: JobContext): Promise<FinetuneSummary>;
  resumeFinetune(dir: string, ctx: JobContext): Promise<FinetuneSummary>;
}

export type JobRunner<K extends JobKind> = (core: JobHost, params: JobParams[K], ctx: JobContext) => Promise<JobResults[K]>;

export interface JobDescriptor<K extends JobKind> {
  run: JobRunner<K>;
  /**
   * Kept in the workspace by (model file, dataset, params): a second ask is answered from disk. `schema` counts
   * the times a result's layout gained fields since the engine version last changed; `key` adds what else the
   * result depends on.
   */
  cache?: { schema?: number; key?: (params: JobParams[K]) => unknown };
}

const RUNNERS: { [K in JobKind]: JobRunner<K> } = {
  evaluate: (core, params, ctx) => evaluateModel(core.requireModel(), core.requireDataset(), params, ctx),
  occlusion: (core, params, ctx) => core.occlusion(params.image, params, ctx),
  atlas: (core, params, ctx) => buildAtlas(core.requireModel(), core.requireDataset(), core.atlasDir(), params, ctx),
  invariance: (core, params, ctx) => core.invariance(params, ctx),
  evolution: (core, params, ctx) => {
    const model = core.requireModel();
    return featureEvolution(model, resolveModelJsonPath(resolveModelPath(model.summary.id)), core.requireDataset(), params, ctx);
  },
  correspondence: async (core, params, ctx) => {
    const images = [];
    for (const index of params.images) {
      const { input } = await core.modelInput({ source: 'dataset', index });
      images.push({ input, label: core.requireDataset().entries[index].file });
    }
    return correspondence(core.requireModel(), images, params.parts, { layers: params.layers, randomDraws: params.randomDraws }, ctx);
  },
  sparsity: (core, params, ctx) => sparsity(core.requireModel(), core.requireDataset(), params.layers, ctx),
  selectivity: async (core, params, ctx) => {
    // All chosen layers in one pair of passes over the dataset.
    const { layers } = await selectivityOfLayers(core.requireModel(), core.requireDataset(), params.layers, ctx);
    const out: SelectivityResult['layers'] = layers.map(({ layer, aue }) => ({ layer, aue, cumulative: cumulativeAue(aue) }));
    return { layers: out, classes: core.requireDataset().summary.classes.length };
  },
  gmc: async (core, params, ctx) => {
    const { ap, classes, curves } = await grandmotherCells(core.requireModel(), core.requireDataset(), params.layer, ctx);
    const summary = core.requireDataset().summary;
    return { layer: params.layer, classes, ap, prevalence: summary.classes.map((c) => c.count / Math.max(1, summary.count)), recalls: [...PR_RECALLS], curves };
  },
  probe: async (core, params, ctx) => ({ rows: await linearProbes(core.requireModel(), core.requireDataset(), params, ctx) }),
  datasetReport: (core, _params, ctx) => datasetReport(core.requireDataset(), ctx),
  distributedCode: (core, params, ctx) => distributedCode(core.requireModel(), core.requireDataset(), params.layer, params, ctx),
  imagesPerClass: (core, params, ctx) => imagesPerClassCurve(core.requireModel(), core.requireDataset(), params, ctx),
  report: async (core, params, ctx) => ({ html: await buildReport(core, params, ctx) }),
  compareModels: (core, params, ctx) =>
    compareModels(core.requireModel(), resolveModelJsonPath(resolveModelPath(params.other)), core.requireDataset(), params, ctx),
  probeTraining: (core, params, ctx) => {
    const model = core.requireModel();
    return probeOverTraining(model, resolveModelJsonPath(resolveModelPath(model.summary.id)), core.requireDataset(), params, ctx);
  },
  finetune: (core, params, ctx) =>
    core.finetuneAndSave(params, path.join(runsRoot(), `${new Date().toISOString().replace(/[:.]/g, '-')}-${params.strategy}`), ctx),
  resumeFinetune: (core, params, ctx) => core.resumeFinetune(runDir(params.run), ctx),
  ablation: (core, params, ctx) => architectureAblation(core.requireModel(), core.requireDataset(), params, ctx),
  collectActivations: async (core, params, ctx) =>
    describeActivations(
      await collectActivations(core.requireModel(), core.requireDataset(), params.layers, { maps: params.maps, mapsDtype: params.mapsDtype }, ctx),
      params.layers,
    ),
  zooDownload: (_core, params, ctx) => downloadZooModel(findZooEntry(params.name), ctx),
};

/** Results worth keeping: passes over a whole dataset (gmc 2 = precision–recall curves; compareModels 2 = probe accuracies). */
const CACHED: { [K in JobKind]?: JobDescriptor<K>['cache'] } = {
  sparsity: {},
  selectivity: {},
  gmc: { schema: 2 },
  probe: {},
  probeTraining: {},
  // A comparison also depends on the other model's file: a retrained copy must not get the old answer.
  compareModels: { schema: 2, key: (params) => ({ otherFile: stamp(resolveModelJsonPath(resolveModelPath(params.other))) }) },
  imagesPerClass: {},
  distributedCode: {},
  invariance: {},
  evolution: {},
};

export const JOBS = Object.fromEntries(Object.entries(RUNNERS).map(([kind, run]) => [kind, { run, cache: CACHED[kind as JobKind] }])) as {
  [K in JobKind]: JobDescriptor<K>;
};
