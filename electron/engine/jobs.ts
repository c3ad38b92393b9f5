/**
 * Job kinds by registry: the descriptor of each kind of the contract's JobParams, collected from the module that
 * implements it (features/job-host.ts says what a descriptor is). The mapped type makes a missing kind a compile
 * error; adding an analysis is its module, its descriptor and one line here.
 */
import type { JobKind } from '../../shared/contract';
import { atlasJob } from './analyses/atlas';
import { compareModelsJob } from './analyses/compare-models';
import { correspondenceJob } from './analyses/correspondence';
import { datasetReportJob } from './analyses/dataset-report';
import { distributedCodeJob } from './analyses/distributed-code';
import { evaluateJob } from './analyses/evaluate';
import { evolutionJob } from './analyses/evolution';
import { invarianceJob } from './analyses/invariance';
import { occlusionJob } from './analyses/occlusion';
import { probeJob } from './analyses/probe';
import { probeTrainingJob } from './analyses/probe-training';
import { reportJob } from './analyses/report';
import { gmcJob, selectivityJob, sparsityJob } from './analyses/selectivity';
import { collectActivationsJob } from './features/collect';
import type { JobDescriptor } from './features/job-host';
import { ablationJob } from './train/ablation';
import { finetuneJob, resumeFinetuneJob } from './train/fine-tuning-run';
import { imagesPerClassJob } from './train/images-per-class';
import { zooDownloadJob } from './zoo/download';

export type { JobDescriptor, JobHost, JobRunner } from './features/job-host';

export const JOBS: { [K in JobKind]: JobDescriptor<K> } = {
  evaluate: evaluateJob,
  occlusion: occlusionJob,
  atlas: atlasJob,
  invariance: invarianceJob,
  evolution: evolutionJob,
  correspondence: correspondenceJob,
  sparsity: sparsityJob,
  selectivity: selectivityJob,
  gmc: gmcJob,
  probe: probeJob,
  datasetReport: datasetReportJob,
  distributedCode: distributedCodeJob,
  imagesPerClass: imagesPerClassJob,
  report: reportJob,
  compareModels: compareModelsJob,
  probeTraining: probeTrainingJob,
  finetune: finetuneJob,
  resumeFinetune: resumeFinetuneJob,
  ablation: ablationJob,
  collectActivations: collectActivationsJob,
  zooDownload: zooDownloadJob,
};
