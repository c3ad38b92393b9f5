/**
 * Job kinds by registry: one runner per kind of the contract's JobParams (the mapped type makes a missing kind a
 * compile error). Each runner takes the engine's open model and dataset and calls its analysis module.
 */
import * as path from 'node:path';
import type { JobKind, JobParams, JobResults, SelectivityResult } from '../../shared/contract';
import { cumulativeAue, PR_RECALLS, selectivityOfLayers } from './analyses/agrawal';
import { buildAtlas } from './analyses/atlas';
import { collectActivations, describeActivations } from './analyses/collect';
import { correspondence } from './analyses/correspondence';
import { evaluateModel } from './analyses/evaluate';
import { featureEvolution } from './analyses/evolution';
import type { JobContext } from './analyses/job-context';
import { compareModels } from './analyses/compare-models';
import { datasetReport } from './analyses/dataset-report';
import { distributedCode } from './analyses/distributed-code';
import { buildReport } from './analyses/report';
import { imagesPerClassCurve } from './train/images-per-class';
import { linearProbes } from './analyses/probe';
import { probeOverTraining } from './analyses/probe-training';
import type { EngineCore } from './core';
import { resolveModelJsonPath } from './model/tfjs-io';
import { resolveModelPath } from './paths';
import { architectureAblation } from './train/ablation';
import { runDir, runsRoot } from './train/run-store';
import { findZooEntry } from './zoo/catalog';
import { downloadZooModel } from './zoo/download';

export type JobRunner<K extends JobKind> = (core: EngineCore, params: JobParams[K], ctx: JobContext) => Promise<JobResults[K]>;

export const JOB_RUNNERS: { [K in JobKind]: JobRunner<K> } = {
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
  sparsity: (core, params, ctx) => core.analyzeSparsity(params.layers, ctx),
  selectivity: async (core, params, ctx) => {
    // All chosen layers in one pair of passes over the dataset.
    const { layers } = await selectivityOfLayers(core.requireModel(), core.requireDataset(), params.layers, ctx);
    const out: SelectivityResult['layers'] = layers.map(({ layer, aue }) => ({ layer, aue, cumulative: cumulativeAue(aue) }));
    return { layers: out, classes: core.requireDataset().summary.classes.length };
  },
  gmc: async (core, params, ctx) => {
    const { ap, classes, curves } = await core.analyzeGrandmotherCells(params.layer, ctx);
    const summary = core.requireDataset().summary;
    return { layer: params.layer, classes, ap, prevalence: summary.classes.map((c) => c.count / Math.max(1, summary.count)), recalls: [...PR_RECALLS], curves };
  },
  probe: async (core, params, ctx) => ({ rows: await linearProbes(core.requireModel(), core.requireDataset(), params, ctx) }),
  datasetReport: (core, _params, ctx) => datasetReport(core.requireDataset(), ctx),
  distributedCode: (core, params, ctx) => distributedCode(core.requireModel(), core.requireDataset(), params.layer, params, ctx),
  imagesPerClass: (core, params, ctx) => imagesPerClassCurve(core.requireModel(), core.requireDataset(), params, ctx),
  report: async (core, params, ctx) => ({ html: await buildReport(core, params, ctx) }),
  compareModels: (core, params, ctx) => compareModels(core.requireModel(), resolveModelJsonPath(resolveModelPath(params.other)), core.requireDataset(), params, ctx),
  probeTraining: (core, params, ctx) => {
    const model = core.requireModel();
    return probeOverTraining(model, resolveModelJsonPath(resolveModelPath(model.summary.id)), core.requireDataset(), params, ctx);
  },
  finetune: (core, params, ctx) => core.finetuneAndSave(params, path.join(runsRoot(), `${new Date().toISOString().replace(/[:.]/g, '-')}-${params.strategy}`), ctx),
  resumeFinetune: (core, params, ctx) => core.resumeFinetune(runDir(params.run), ctx),
  ablation: (core, params, ctx) => architectureAblation(core.requireModel(), core.requireDataset(), params, ctx),
  collectActivations: async (core, params, ctx) =>
    describeActivations(await collectActivations(core.requireModel(), core.requireDataset(), params.layers, { maps: params.maps, mapsDtype: params.mapsDtype }, ctx), params.layers),
  zooDownload: (_core, params, ctx) => downloadZooModel(findZooEntry(params.name), ctx),
};
