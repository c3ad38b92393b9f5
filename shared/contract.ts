/**
 * THE contract between the renderer (or any client) and the engine. Every message shape is declared here once.
 * Three transports implement `InspectorApi` + `InspectorEvents`: Electron IPC (preload exposes
 * `window.inspector`), WebSocket (browser / classroom mode) and in-process (tests, CLI).
 * No runtime dependency on Node, the DOM or Electron.
 *
 * Big arrays cross as typed arrays, images as PNG bytes — never as JSON number lists.
 */
import type { ErrorInfo } from './errors';

// ---------------------------------------------------------------------------------------------------------------
// Models

/** How raw pixels become the model's input: x = (pixel · scale − mean[c]) / std[c], per channel. */
export interface Preprocessing {
  /** [height, width] the image is resized to. */
  inputSize: [number, number];
  /** 1 = grey, 3 = colour. Images are converted to this many channels. */
  channels: 1 | 3;
  /** Multiplies raw 0–255 pixel values (1/255 maps to [0,1]). */
  scale: number;
  mean: number[];
  std: number[];
  /** Colour channel order of the model's input (Caffe-era models use 'bgr'). */
  channelOrder?: 'rgb' | 'bgr';
  /** 'stretch' resizes to inputSize ignoring aspect; 'center-crop' resizes the short side then crops. */
  resize?: 'stretch' | 'center-crop';
}

/** What a model file can carry in TF.js `userDefinedMetadata`. */
export interface ModelMetadata {
  name?: string;
  description?: string;
  labels?: string[];
  preprocessing?: Preprocessing;
  [key: string]: unknown;
}

/**
 * Receptive field of a spatial layer in input pixels: the unit at output position (y, x) sees the input box
 * rows [offset[0] + y·stride[0], offset[0] + y·stride[0] + size[0]) and likewise for columns, before clipping to
 * the image (offsets can be negative where padding was used).
 */
export interface ReceptiveField {
  size: [number, number];
  stride: [number, number];
  offset: [number, number];
}

export interface LayerInfo {
  name: string;
  /** The layer's class as the model file names it (Conv2D, MaxPooling2D, Dense, LRN, …). */
  type: string;
  /** Output shape without the batch dimension: [H, W, C] for spatial layers, [C] for dense. */
  outputShape: number[];
  params: number;
  /** Names of the layers feeding this one (empty for the input). */
  inputs: string[];
  /** Fused activation, if the layer has one (e.g. 'relu'). */
  activation?: string;
  /** For layers whose output is [H, W, C]. */
  receptiveField?: ReceptiveField;
  /** Kernel size [h, w] and channel counts, for convolution layers. */
  kernel?: { size: [number, number]; strides: [number, number]; filters: number };
  /** Multiply–adds per image (convolutions, dense layers, map products; absent for the others). */
  macs?: number;
}

/** The file formats CNN Inspector opens. */
export type ModelFormat = 'tfjs-layers' | 'onnx' | 'keras';

export interface ModelSummary {
  /** Path of the model.json, or 'bundled:default' for the default model. */
  id: string;
  name: string;
  description?: string;
  format: ModelFormat;
  /** Input shape without batch: [H, W, C]. */
  inputShape: number[];
  classes?: string[];
  layers: LayerInfo[];
  preprocessing: Preprocessing;
  totalParams: number;
  /** Things the person should know, e.g. "No class labels in the file: showing class numbers". */
  notices: string[];
  /** Training checkpoints shipped with the model (epoch names), for the evolution view. */
  checkpoints: string[];
  /** What the model's last layer gives: a probability distribution, or raw scores (logits) shown after a softmax. */
  outputs?: 'probabilities' | 'scores';
}

// ---------------------------------------------------------------------------------------------------------------
// Datasets and images

export interface SkippedFile {
  file: string;
  code: string;
  message: string;
}

export interface DatasetSummary {
  /** Absolute path, or 'bundled:samples'. */
  id: string;
  name: string;
  kind: 'folder' | 'idx';
  classes: Array<{ name: string; count: number }>;
  count: number;
  /** Files that could not be used, each named with the reason. Nothing is dropped silently. */
  skipped: SkippedFile[];
}

export interface ImageEntry {
  index: number;
  /** Path relative to the dataset folder (or "train[123]" for IDX). */
  file: string;
  classIndex: number;
  className: string;
}

/** Which image an analysis runs on. */
export type ImageRef = { source: 'dataset'; index: number } | { source: 'upload'; id: string };

export interface ImagePage {
  total: number;
  offset: number;
  images: ImageEntry[];
}

export interface UploadedImage {
  ref: ImageRef;
  name: string;
  width: number;
  height: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Results

export interface Prediction {
  index: number;
  label?: string;
  probability: number;
}

export interface PredictResult {
  predictions: Prediction[];
  /** The true class, when the image comes from a labelled dataset. */
  trueClass?: number;
}

/** Activation maps of one layer for one image. */
export interface ActivationMaps {
  layer: string;
  /** [H, W, C] for spatial layers, [C] for dense. */
  shape: number[];
  /** Row-major values in `shape`, float32. */
  data: Float32Array;
  min: number;
  max: number;
}

/** The projection methods, defined once: the engine, the CLI and the views read this list. */
export const PROJECTION_METHODS = ['deconv', 'gradient', 'guided'] as const;
export type ProjectionMethod = (typeof PROJECTION_METHODS)[number];

/** One unit's activation projected down to input space (ZF deconvnet, gradient or guided backprop). */
export interface ProjectionResult {
  layer: string;
  unit: number;
  method: ProjectionMethod;
  /** Where the projected activation is ([y, x]; [] for dense layers). */
  position: number[];
  value: number;
  /** Input space [H, W, C]; raw values (display normalisation is the viewer's choice). */
  shape: number[];
  data: Float32Array;
  /** What computed it: 'onnxruntime' (the deconvnet graph) or 'tfjs' (the per-unit path). */
  engine?: 'onnxruntime' | 'tfjs';
}

// ---------------------------------------------------------------------------------------------------------------
// Jobs

/** Where a grey square hides part of the input (input pixels; fill in input-tensor space, default 0). */
export interface Occluder {
  y: number;
  x: number;
  patch: number;
  fill?: number;
}

export interface OcclusionParams {
  image: ImageRef;
  patch: number;
  stride: number;
  fill?: number;
  classIndex?: number;
  layer?: string;
}

/** ZF Fig. 7 maps over the grid of square positions, row-major [grid[0], grid[1]]. */
export interface OcclusionMaps {
  classIndex: number;
  baseProbability: number;
  featureLayer: string;
  featureUnit: number;
  grid: [number, number];
  patch: number;
  stride: number;
  fill: number;
  probability: Float32Array;
  topLabel: Int32Array;
  feature: Float32Array;
}

/** A convolution layer's kernels (ZF Fig. 6a) with each filter's RMS and the "one filter dominates" check. */
export interface FilterBank {
  layer: string;
  /** [KH, KW, Cin, Cout]. */
  shape: number[];
  data: Float32Array;
  /** Root mean square of each filter's weights, per output unit. */
  rms: number[];
  medianRms: number;
  /** Filters whose RMS is more than dominanceRatio × the median. */
  dominant: Array<{ unit: number; ratio: number }>;
  dominanceRatio: number;
}

export type TransformKind = 'translation' | 'scale' | 'rotation';

/** One transform's sweep: values, and per image (rows) per value (columns) the three measurements. */
export interface InvarianceSweep {
  values: number[];
  /** Euclidean distance of the low layer's feature vector to the untransformed image's. */
  low: number[][];
  high: number[][];
  /** Probability of the image's true class (or the original top-1). */
  probability: number[][];
}

/** Zeiler & Fergus Fig. 5. */
export interface InvarianceResult {
  lowLayer: string;
  highLayer: string;
  images: Array<{ label: string; classIndex: number }>;
  sweeps: Record<TransformKind, InvarianceSweep>;
}

export interface InvarianceParams {
  /** Dataset images (default: 5 spread over the classes). */
  images?: number[];
  lowLayer?: string;
  highLayer?: string;
  translations?: number[];
  scales?: number[];
  rotations?: number[];
}

/** One unit at one checkpoint: its strongest image over the dataset, projected (ZF Fig. 4). */
export interface EvolutionCell {
  checkpoint: string;
  unit: number;
  image: string;
  value: number;
  position: number[];
  /** PNGs of the receptive field: the deconvnet projection (grey = 0) and the image patch. */
  projection: Uint8Array;
  patch: Uint8Array;
}

export interface EvolutionResult {
  layer: string;
  units: number[];
  /** Checkpoint names in training order, ending with "final". */
  checkpoints: string[];
  cells: EvolutionCell[];
}

/** One row of ZF Table 1: how consistently hiding a part changes a layer's features across images. */
export interface CorrespondenceRow {
  part: string;
  layer: string;
  /** Mean over image pairs of the fraction of features whose change has a different sign (lower = more consistent). */
  meanSignChange: number;
  std: number;
  /** ZF's Δ: the sum over ordered pairs i ≠ j of the normalised Hamming distances. */
  delta: number;
}

/** The part name of a part's control rows: boxes of the same sizes at random places. */
export const randomControlName = (part: string) => `random (${part} size)`;

export interface CorrespondenceResult {
  layers: string[];
  images: string[];
  rows: CorrespondenceRow[];
}

export interface CorrespondenceParams {
  /** Dataset indices of the images (usually one class). */
  images: number[];
  /** Each part: a name and one [top, left, bottom, right) box per image, in input pixels. */
  parts: Array<{ name: string; boxes: Array<[number, number, number, number]> }>;
  layers?: string[];
  randomDraws?: number;
}

/** Agrawal et al. Table 6: % non-zero per layer, mean ± population std over images. */
export interface SparsityResult {
  rows: Array<{ layer: string; mean_nonzero_pct: number; std_nonzero_pct: number }>;
  skipped: SkippedFile[];
}

/** Agrawal et al. Fig. 1: per layer, each unit's AuE and the mean cumulative AuE curve. */
export interface SelectivityResult {
  layers: Array<{
    layer: string;
    /** Area under the entropy curve per unit (bits; lower = more class-selective). */
    aue: number[];
    /** Mean cumulative AuE of the k most selective units, k = 1…units (plotted against k / units). */
    cumulative: number[];
  }>;
  classes: number;
}

/** Agrawal et al. §4.1, Fig. 3: AP of every unit as a one-unit classifier of every class. */
export interface GrandmotherResult {
  layer: string;
  classes: string[];
  /** ap[class][unit]. */
  ap: number[][];
  /** Fraction of images in each class: the AP of a random scorer. */
  prevalence: number[];
  /** Recall levels of the curves' precision values (0, 0.02, …, 1). */
  recalls: number[];
  /** Per class (same order as `classes`): precision–recall curves of its best units and of random units (Fig. 3). */
  curves: GrandmotherCurves[];
}

/** One class's precision–recall curves: interpolated precision at each of GrandmotherResult.recalls. */
export interface GrandmotherCurves {
  /** Its five best units by AP, best first. */
  top: Array<{ unit: number; ap: number; precision: number[] }>;
  /** The baseline: the mean curve of five other units drawn at random (seeded). */
  random: { units: number[]; precision: number[] };
}

/** The probe ablations (Agrawal et al. Table 7), defined once. */
export const PROBE_ABLATIONS = ['original', 'binarised', 'shuffled', 'maxpool'] as const;
export type ProbeAblation = (typeof PROBE_ABLATIONS)[number];

/** How the app and the report name the ablations to people, in this order. */
export const PROBE_ABLATION_LABELS: Readonly<Record<ProbeAblation, string>> = {
  original: 'as is',
  binarised: 'on/off',
  shuffled: 'shuffled',
  maxpool: 'max only',
};

/** Agrawal et al. Table 7: held-out accuracy of a linear probe on a layer's (ablated) features. */
export interface ProbeRow {
  layer: string;
  ablation: ProbeAblation;
  /** Mean over seeds (each seed: its own split, initialisation and shuffles). */
  accuracy: number;
  std: number;
  seeds: number;
}

/** Agrawal et al. Table 3: probe accuracy of each layer at each checkpoint of training ('final' = the model). */
export interface ProbeTrainingResult {
  checkpoints: string[];
  layers: string[];
  rows: Array<{ checkpoint: string; epoch: number | null; layer: string; accuracy: number; std: number }>;
  /** Per layer, the first checkpoint within one point of the layer's final accuracy. */
  convergedAt: Record<string, string>;
}

/** Agrawal et al. Table 2 / Fig. 1 for two models: per shared layer, relative weight change and mean AuE. */
export interface ModelComparison {
  model: string;
  other: string;
  /** Per shared layer: relative weight change, mean AuE and linear-probe accuracy (original outputs, 1 seed) in each model. */
  rows: Array<{ layer: string; weightChange: number; aueModel?: number; aueOther?: number; probeModel?: number; probeOther?: number }>;
  /** Layers with weights that only one of the two has (e.g. a new classifier). */
  onlyInModel: string[];
  onlyInOther: string[];
}

/** Checks of a labelled image folder before training on it. */
export interface DatasetReport {
  checked: number;
  /** Groups of images that look the same (dataset indexes, files, their classes). */
  lookalikes: Array<{ images: number[]; files: string[]; classes: string[]; acrossClasses: boolean }>;
  /** Groups spanning several classes: probably a wrong label. */
  acrossClasses: number;
  /** Held-back images (Teach it's default split) with a look-alike among the training images. */
  validationWithTwinInTraining: number;
  /** False for very big folders, where only identical images are matched. */
  pairwise: boolean;
  unreadable: SkippedFile[];
}

/** ZF Fig. 9 on the person's classes: held-back accuracy (mean ± std over runs) vs training images per class. */
export interface ImagesPerClassResult {
  classes: string[];
  validationImages: number;
  /** The layer whose outputs the classifiers were trained on. */
  featureLayer: string;
  rows: Array<{ perClass: number; accuracy: number; std: number; runs: number }>;
  /** The same counts with the whole network trained from random weights (ZF Fig. 9's comparison), when asked for. */
  scratchRows?: Array<{ perClass: number; accuracy: number; std: number; runs: number }>;
}

/** Agrawal et al. §4.2 (Fig. 4–5, Table 5) for one layer. */
export interface DistributedCodeResult {
  layer: string;
  units: number;
  /** The nested subset sizes k (top units by |SVM weight|), the last being every unit. */
  sizes: number[];
  classes: Array<{
    name: string;
    /** AP of the one-vs-rest SVM on every unit (held-out images). */
    ap: number;
    /** AP with the top-k units as a fraction of `ap`, per size. */
    fractions: number[];
    k50: number;
    k90: number;
    topUnits: number[];
  }>;
  /** overlap[i][j]: share of class i's top units also among class j's. */
  overlap: number[][];
  setSize: number;
  /** What two random sets of `setSize` units would share on average. */
  chanceOverlap: number;
  skipped: SkippedFile[];
}

/** One unit's top images in an atlas. */
export interface AtlasEntry {
  /** Dataset index. */
  index: number;
  /** Path relative to the dataset folder. */
  image: string;
  value: number;
  /** [y, x] of the strongest activation; [] for dense layers. */
  position: number[];
  /** [top, left, bottom, right) of the receptive-field patch, in input pixels. */
  box?: number[];
}

export interface AtlasLayer {
  layer: string;
  k: number;
  /** Spatial layers have patch + projection sheets; dense layers only the ranked images. */
  spatial: boolean;
  images: number;
  units: Array<{ unit: number; top: AtlasEntry[] }>;
}

export interface AtlasSummary {
  model: string;
  dataset: string;
  k: number;
  images: number;
  layers: Array<{ layer: string; units: number; spatial: boolean }>;
  builtAt: string;
  skipped: SkippedFile[];
}

export interface JobParams {
  /** Accuracy, per-class accuracy and confusion matrix of the current model on the current dataset. */
  evaluate: { limit?: number };
  /** Occlusion sensitivity of one image (ZF §4.2). */
  occlusion: OcclusionParams;
  /** Top-k atlas with projections of the current model over the current dataset (ZF Fig. 2). */
  atlas: { k?: number; layers?: string[] };
  /** Translation, scale and rotation sweeps (ZF Fig. 5). */
  invariance: InvarianceParams;
  /** How chosen units evolved over the training checkpoints (ZF Fig. 4). */
  evolution: { layer?: string; units?: number[]; checkpoints?: string[] };
  /** Part correspondence (ZF §4.2, Table 1). */
  correspondence: CorrespondenceParams;
  sparsity: { layers?: string[] };
  selectivity: { layers: string[] };
  gmc: { layer: string };
  probe: { layers: string[]; ablations?: ProbeAblation[]; seeds?: number };
  /** Linear probes of layers at every training checkpoint (Agrawal et al. Table 3). Default layers: see the engine. */
  probeTraining: { layers?: string[]; seeds?: number };
  /** What changed between the open model and another of the same architecture (e.g. after fine-tuning). */
  compareModels: { other: string; layers?: string[]; selectivity?: boolean; probes?: boolean };
  /** Look-alike images in the open folder, within and across classes (before training on it). */
  datasetReport: Record<string, never>;
  /** One HTML page of the Agrawal et al. analyses (sparsity, selectivity, grandmother cells, probes). */
  report: { layers?: string[]; gmcLayer?: string; probeLayers?: string[] };
  /** How many images per class are needed: held-back accuracy of a new classifier vs images per class (ZF Fig. 9). */
  imagesPerClass: { counts?: number[]; seeds?: number; epochs?: number; scratch?: boolean; scratchSeeds?: number };
  /** How distributed the code of a layer is: SVMs on nested top-unit subsets, unit-set overlap (Agrawal §4.2). */
  distributedCode: { layer: string; seed?: number };
  /** Fine-tune a copy of the open model on the open dataset (transfer learning). */
  finetune: {
    strategy: FinetuneStrategy;
    epochs?: number;
    learningRate?: number;
    batchSize?: number;
    seed?: number;
    augment?: boolean;
    flip?: boolean;
    /** Random shifted crops (default on). */
    crop?: boolean;
    earlyStopping?: boolean;
    /** Share of each class held back to check the result (0.1–0.5; default 0.2). */
    validationFraction?: number;
    /** Share of each class kept aside as a final test set (0 = none, default; else 0.05–0.4). */
    testFraction?: number;
    /** "all" only: learning-rate factor per layer (0–10; "new_classifier" = the new last step). Others: 0.1×, new last step 1×. */
    layerMultipliers?: Record<string, number>;
    /** 'sgd' (momentum, default) or 'adam'. */
    optimizer?: 'sgd' | 'adam';
    /** The new last step of the "features" strategy: softmax (default) or linear SVMs. */
    classifier?: 'softmax' | 'svm';
  };
  /**
   * One pass of the open dataset through the open model, keeping per layer each image's spatial max per unit,
   * its count of non-zero values and (with `maps`) the whole output as .npy in the workspace — what the Agrawal
   * analyses read, so each runs the network no more than it must.
   */
  /** With `shard`: only part `index` of `count` of the images (one process of a cluster job; `collect-merge` joins them). */
  collectActivations: { layers: string[]; maps?: boolean; mapsDtype?: 'float32' | 'float16'; shard?: { index: number; count: number } };
  /** Carry on a paused or interrupted fine-tuning run (see listRuns) from its last checkpoint. */
  resumeFinetune: { run: string };
  /**
   * Architecture ablation (ZF Table 3): variants of the open model with layers removed or resized, each trained
   * with the same budget on the open dataset; train and held-back error per variant.
   */
  ablation: {
    variants: AblationVariant[];
    epochs?: number;
    batchSize?: number;
    seed?: number;
    /** 'scratch' (random weights, as in the paper; default) or 'pretrained' (keep the weights of layers that still fit). */
    start?: 'scratch' | 'pretrained';
  };
  /** Download a network of the model zoo into the workspace (resuming a partial download), verified by its SHA-256. */
  zooDownload: { name: string };
}
export type JobKind = keyof JobParams;

// ---------------------------------------------------------------------------------------------------------------
// Model zoo

/** A network of the model zoo, pinned by its file's SHA-256 and size. */
export interface ZooEntry {
  /** Short name used by the CLI and as the file name (`resnet18-v1`). */
  name: string;
  /** What a person reads (`ResNet-18 v1 (GluonCV)`). */
  title: string;
  /** The file's path under the zoo mirror. */
  path: string;
  sha256: string;
  bytes: number;
  /** One sentence on what the network is. */
  about: string;
  preprocessing?: Preprocessing;
  /** 'imagenet': its outputs are ImageNet's 1 000 classes. */
  labels?: 'imagenet';
}

export interface ZooModelState extends ZooEntry {
  /** 'downloaded' (ready to open), 'partial' (a download to resume), 'absent'. */
  state: 'downloaded' | 'partial' | 'absent';
  /** Bytes already on disk. */
  have: number;
  /** Where the file is (or will be) in the workspace. */
  file: string;
  /** Where it is downloaded from. */
  url: string;
}

export interface ZooListing {
  /** The folder of the workspace that holds downloaded networks (to copy a file in by hand). */
  folder: string;
  mirror: string;
  models: ZooModelState[];
}

export interface ZooDownloadResult {
  name: string;
  /** The verified file, ready for openModel. */
  file: string;
  bytes: number;
  sha256: string;
  /** Bytes fetched by this job (0 when the file was already there; less than `bytes` after a resume). */
  fetched: number;
}

/** One architecture to try: the open model with `remove`d layers and `resize`d ones (layer → units or filters). */
export interface AblationVariant {
  name: string;
  remove?: string[];
  resize?: Record<string, number>;
}

export interface AblationRow {
  variant: string;
  removed: string[];
  resized: Record<string, number>;
  /** Weights the variant has (the paper's point: fewer layers, fewer weights, and what that costs). */
  parameters: number;
  trainError: number;
  validationError: number;
  seconds: number;
  history: Array<{ epoch: number; loss: number; validationAccuracy?: number }>;
}

export interface AblationResult {
  classes: string[];
  trainImages: number;
  validationImages: number;
  epochs: number;
  start: 'scratch' | 'pretrained';
  rows: AblationRow[];
  skipped: SkippedFile[];
}

/** A fine-tuning run kept on disk: finished, or paused / interrupted and resumable. */
export interface TrainingRunInfo {
  /** Its folder name; pass it to resumeFinetune / discardRun. */
  id: string;
  /** 'interrupted': the app or computer stopped while it was training. */
  status: 'running' | 'paused' | 'interrupted' | 'done';
  strategy: FinetuneStrategy;
  modelName: string;
  datasetName: string;
  images: number;
  epochs: number;
  epochsDone: number;
  /** Batches done of the epoch after `epochsDone` (a pause mid-epoch). */
  batchesDone: number;
  history: Array<{ epoch: number; loss: number; validationAccuracy?: number; learningRate: number }>;
  createdAt: string;
  updatedAt: string;
}

export interface JobResults {
  evaluate: EvaluationResult;
  occlusion: OcclusionMaps;
  atlas: AtlasSummary;
  invariance: InvarianceResult;
  evolution: EvolutionResult;
  correspondence: CorrespondenceResult;
  sparsity: SparsityResult;
  selectivity: SelectivityResult;
  gmc: GrandmotherResult;
  probe: { rows: ProbeRow[] };
  probeTraining: ProbeTrainingResult;
  compareModels: ModelComparison;
  datasetReport: DatasetReport;
  report: { html: string };
  imagesPerClass: ImagesPerClassResult;
  distributedCode: DistributedCodeResult;
  finetune: FinetuneSummary;
  resumeFinetune: FinetuneSummary;
  ablation: AblationResult;
  collectActivations: CollectedActivations;
  zooDownload: ZooDownloadResult;
}

/** Where a collection's .npy files are, and what each layer holds. */
export interface CollectedActivations {
  folder: string;
  images: number;
  /** labels.npy: int32 [images], each image's class index. */
  labels: string;
  layers: Array<{
    layer: string;
    /** Output shape per image. */
    shape: number[];
    /** float32 [images, units]: each image's spatial maximum per unit. */
    max: string;
    /** int32 [images]: non-zero values per image. */
    nonzero: string;
    /** float32 or float16 [images, …shape]: the whole output, when kept. */
    maps?: string;
    mapsDtype?: 'float32' | 'float16';
    /** Why the maps were not kept (too big), when they were asked for. */
    mapsSkipped?: string;
  }>;
  skipped: SkippedFile[];
  /** A shard's collection: which part, and its images [start, end) in dataset order. */
  shard?: { index: number; count: number; start: number; end: number };
}

export interface EvaluationResult {
  accuracy: number;
  per_class: Record<string, number>;
  confusion: number[][];
  classes: string[];
  count: number;
  skipped: SkippedFile[];
  /** Every image that was evaluated, with its true and predicted dataset class (for drill-down). */
  outcomes: Array<{ index: number; trueClass: number; predicted: number }>;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Numbers a training job reports as it goes (for live curves). */
export interface TrainingMetrics {
  epoch: number;
  /** Fractional epoch of this report (epoch − 1 + batch / batches). */
  progress: number;
  loss: number;
  validationAccuracy?: number;
}

export interface JobProgress {
  jobId: string;
  kind: JobKind;
  done: number;
  total: number;
  message: string;
  metrics?: TrainingMetrics;
  /** While it waits for a worker: how many jobs are ahead of it (running ones included). */
  waiting?: number;
  /** Classroom: the leading instructor's job, shown to a following student (its result can be read, not cancelled). */
  sharedBy?: 'instructor';
}

/** The ways to fine-tune (CS231n's transfer-learning recipe plus training from scratch), defined once. */
export const FINETUNE_STRATEGIES = ['features', 'fc', 'all', 'scratch'] as const;
export type FinetuneStrategy = (typeof FINETUNE_STRATEGIES)[number];

/** A finished fine-tuning run: where the new model is, and how it did. */
export interface FinetuneSummary {
  /** model.json of the new model (in the workspace); open it with openModel. */
  path: string;
  strategy: FinetuneStrategy;
  classes: string[];
  trainImages: number;
  validationImages: number;
  validationAccuracy: number;
  /** Images kept aside as a final test set (0 when none was asked for), and the accuracy on them. */
  testImages?: number;
  testAccuracy?: number;
  /** Which images perClass, confusion and outcomes describe: the test set when there is one. */
  reportedOn?: 'validation' | 'test';
  history: Array<{ epoch: number; loss: number; validationAccuracy?: number; learningRate: number }>;
  /** Held-back accuracy per class, and confusion[true][predicted] on the held-back images (class order above). */
  perClass: Record<string, number>;
  confusion: number[][];
  /** Each held-back image: its dataset index, true class and what the new model said (confusion drill-down). */
  outcomes: Array<{ index: number; trueClass: number; predicted: number }>;
  /** With early stopping: the epoch kept, and whether training stopped before the last epoch. */
  bestEpoch?: number;
  stoppedEarly?: boolean;
  /** Why it stopped early: held-back accuracy stopped improving, or the person pressed Stop and keep. */
  stopReason?: 'no-improvement' | 'asked';
  /** The model card written beside the model (what it is, what it was trained on, how well it does). */
  modelCard: string;
  /** The card's text (Markdown) and page (HTML), to show and download in the app. */
  card?: { markdown: string; html: string };
  frozen: string[];
  /** Files of the folder that could not be read, with the reason (left out of training). */
  skipped: SkippedFile[];
  /** The folder it learned from and when the run started (ISO time): the run's name in the app. */
  datasetName?: string;
  startedAt?: string;
}

export interface JobFinished {
  jobId: string;
  kind: JobKind;
  status: Extract<JobStatus, 'done' | 'failed' | 'cancelled'>;
  error?: ErrorInfo;
  /** Classroom: the leading instructor's job (see JobProgress.sharedBy). */
  sharedBy?: 'instructor';
}

// ---------------------------------------------------------------------------------------------------------------
// App state

export interface BackendInfo {
  name: 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  detail: string;
  skipped: string[];
  workers: number;
  /** What runs the many-image jobs (atlas, accuracy, analyses) and training: ONNX Runtime, or tfjs on N threads. */
  batch?: string;
}

/** Opening a model: how far it got. done === total when finished (or failed). */
export interface ModelLoading {
  path: string;
  done: number;
  total: number;
  message: string;
}

/** Formats the open model can be exported to. */
export type ExportFormat = 'onnx' | 'tfjs';

/** An exported model as one file: model.onnx, or a zip holding a TF.js model folder. */
export interface ExportedModel {
  fileName: string;
  bytes: Uint8Array;
}

/** What a person fills in once for a model file that lacks it; remembered beside the file. */
export interface ModelSettings {
  labels?: string[];
  preprocessing?: Preprocessing;
}

/** Who a classroom client is: the person who started the server, or a student who came by the student link. */
export const CLASSROOM_ROLES = ['instructor', 'student'] as const;
export type ClassroomRole = (typeof CLASSROOM_ROLES)[number];

/** This window's place in a classroom (browser mode only). */
export interface SessionInfo {
  /** Names this window's session: given back on reconnect (a reload), it keeps the session's model, images and jobs. */
  id: string;
  role: ClassroomRole;
  /** The link students open (the machine's LAN address in classroom mode); the instructor's windows only. */
  studentUrl?: string;
  /** Dataset jobs students may start (the instructor chooses); interactive views are always open to them. */
  studentJobs: JobKind[];
  /** Windows open now: the instructor's and the students'. */
  sessions: { instructor: number; student: number };
  /** An instructor is leading (students may follow their view). */
  leading: boolean;
  /** Students following the lead now. */
  followers: number;
  /** This student window follows the lead (students only). */
  following?: boolean;
  /** The lead's view now, for a following window that just opened (later changes come as leadChanged). */
  lead?: LeadView;
}

/** What a leading instructor's window shows, for following windows to show too. */
export interface LeadView {
  /** The tab (the renderer's view id). */
  tab: string;
  layer?: string;
  unit?: number;
  /** An image of the open folder (an instructor's own uploads stay theirs). */
  image?: { source: 'dataset'; index: number };
  /** The instructor's model and folder ids: a follower opens them first. */
  model?: string;
  dataset?: string;
  /**
   * Added by the server, never sent by the instructor: the latest finished job of each kind the instructor ran while
   * leading (the atlas, selectivity, a fine-tuning run…). A follower reads their results instead of computing them.
   */
  results?: Array<{ jobId: string; kind: JobKind }>;
}

/** The class's lead: the instructor's view while they lead, none otherwise. */
export interface LeadChanged {
  view?: LeadView;
}

export interface AppState {
  version: string;
  backend: BackendInfo;
  model?: ModelSummary;
  dataset?: DatasetSummary;
  /** 'electron' | 'browser' — how this client is connected. */
  transport: string;
  session?: SessionInfo;
}

// ---------------------------------------------------------------------------------------------------------------
// The service

/** Commands. Each returns a Promise; errors reject with an InspectorError carrying a stable code. */
export interface InspectorApi {
  getState(): Promise<AppState>;
  /** Opens an ONNX (.onnx), Keras (.h5, .keras) or TF.js Layers (model.json or folder) model. No path: the bundled one. */
  openModel(params: { path?: string }): Promise<ModelSummary>;
  /**
   * A model file the person dropped or picked in the browser (.onnx, .h5, .keras): kept in the workspace and
   * opened. Big files go in parts (`offset` of `total` bytes, in order, each at most MODEL_UPLOAD_PART_BYTES):
   * every part but the last answers null, the last the opened model.
   */
  uploadModel(params: { name: string; bytes: Uint8Array; offset?: number; total?: number }): Promise<ModelSummary | null>;
  /** Labels / preprocessing for the open model, saved beside its file (or in the workspace) and applied now. */
  saveModelSettings(params: ModelSettings): Promise<ModelSummary>;
  /** The open model as ONNX or as a TF.js Layers model (zip), with its labels and preprocessing. */
  exportModel(params: { format: ExportFormat; path?: string }): Promise<ExportedModel>;
  /** Opens a folder of class sub-folders or Fashion-MNIST IDX files. No path: the bundled samples. */
  openDataset(params: { path?: string }): Promise<DatasetSummary>;
  /**
   * Copies files of a folder the person picked or dropped in the window (paths relative to it, e.g.
   * "cats/001.jpg") into the workspace, a batch per call; `start` begins a new copy. Open the returned path with
   * openDataset once every batch is in.
   */
  addDatasetFiles(params: { folder: string; start?: boolean; files: Array<{ path: string; bytes: Uint8Array }> }): Promise<{ path: string; files: number }>;
  listImages(params: { offset: number; limit: number; classIndex?: number }): Promise<ImagePage>;
  /** The image as PNG bytes (as decoded, before preprocessing); `size` bounds the longer side. */
  getImage(params: { image: ImageRef; size?: number }): Promise<Uint8Array>;
  /** An image file the person picked (PNG/JPEG/… or .npy); returns a reference usable everywhere. */
  uploadImage(params: { name: string; bytes: Uint8Array }): Promise<UploadedImage>;
  /** Top predictions; with `occlude`, for the image with that square hidden. */
  predict(params: { image: ImageRef; top?: number; occlude?: Occluder }): Promise<PredictResult>;
  activations(params: { image: ImageRef; layer: string }): Promise<ActivationMaps>;
  /** Projects a unit's strongest activation (or the one at `position`) to input space. */
  project(params: { image: ImageRef; layer: string; unit: number; method: ProjectionMethod; position?: number[] }): Promise<ProjectionResult>;
  /** The kernels of a convolution layer (default: the first). */
  getFilters(params: { layer?: string }): Promise<FilterBank>;
  /** The atlas already built for the open model and dataset, if any (browsing it needs no computation). */
  getAtlas(): Promise<AtlasSummary | null>;
  getAtlasLayer(params: { layer: string }): Promise<AtlasLayer>;
  /** One unit's sheet: k deconvnet projections (left) beside the k image patches (right), as PNG. */
  getAtlasSheet(params: { layer: string; unit: number }): Promise<Uint8Array>;
  startJob<K extends JobKind>(params: { kind: K; params: JobParams[K] }): Promise<{ jobId: string }>;
  /**
   * Stops a job. With `keep`, a training job stops at once but keeps and saves what it learned (its best epoch).
   * With `pause`, a training job saves where it is and ends with JOB_PAUSED; resumeFinetune carries it on.
   */
  cancelJob(params: { jobId: string; keep?: boolean; pause?: boolean }): Promise<void>;
  /** Fine-tuning runs that have not finished (paused, or interrupted by a crash or a closed app), newest first. */
  listRuns(): Promise<TrainingRunInfo[]>;
  /** The model zoo's networks and which of them are downloaded (start a `zooDownload` job to fetch one). */
  listZoo(): Promise<ZooListing>;
  /** Deletes an unfinished run and its saved state. */
  discardRun(params: { run: string }): Promise<void>;
  /** Classroom mode, the instructor only: the dataset jobs students may start (the others stay the instructor's). */
  setStudentJobs(params: { kinds: JobKind[] }): Promise<SessionInfo>;
  /** Classroom mode, the instructor only: lead with this view (sent again as it changes), or stop leading (no view). */
  lead(params: { view?: LeadView }): Promise<void>;
  /** Classroom mode, a student: follow the instructor's lead, or step away from it. */
  follow(params: { following: boolean }): Promise<SessionInfo>;
  getJobResult<K extends JobKind>(params: { jobId: string }): Promise<JobResults[K]>;
}

export type Disposer = () => void;

/** Events, named onX; each subscription returns a disposer. */
export interface InspectorEvents {
  onJobProgress(handler: (event: JobProgress) => void): Disposer;
  onJobFinished(handler: (event: JobFinished) => void): Disposer;
  /** The open model or dataset changed (from a menu, another client, …). */
  onStateChanged(handler: (event: AppState) => void): Disposer;
  /** Progress while a model file is read and converted (big models take seconds). */
  onModelLoading(handler: (event: ModelLoading) => void): Disposer;
  /** Classroom mode: the instructor's lead changed (sent to following students). */
  onLeadChanged(handler: (event: LeadChanged) => void): Disposer;
}

export type Inspector = InspectorApi & InspectorEvents;

/** Largest part of a model upload, and of any one message a browser client sends (the server's frame limit allows a little more). */
export const MODEL_UPLOAD_PART_BYTES = 32 * 1024 * 1024;
/** Largest image file a client may send or the engine reads. */
export const MAX_IMAGE_UPLOAD_BYTES = 50 * 1024 * 1024;

/** Command names, for channel validation in IPC and WebSocket handlers. */
export const COMMANDS = [
  'getState',
  'openModel',
  'uploadModel',
  'saveModelSettings',
  'exportModel',
  'openDataset',
  'addDatasetFiles',
  'listImages',
  'getImage',
  'uploadImage',
  'predict',
  'activations',
  'project',
  'getFilters',
  'getAtlas',
  'getAtlasLayer',
  'getAtlasSheet',
  'startJob',
  'cancelJob',
  'getJobResult',
  'listRuns',
  'listZoo',
  'discardRun',
  'setStudentJobs',
  'lead',
  'follow',
] as const satisfies ReadonlyArray<keyof InspectorApi>;

export type CommandName = (typeof COMMANDS)[number];

/** Event names and the payload each carries. */
export interface EventPayloads {
  jobProgress: JobProgress;
  jobFinished: JobFinished;
  stateChanged: AppState;
  modelLoading: ModelLoading;
  leadChanged: LeadChanged;
}
export type EventName = keyof EventPayloads;
export const EVENTS = ['jobProgress', 'jobFinished', 'stateChanged', 'modelLoading', 'leadChanged'] as const satisfies ReadonlyArray<EventName>;

/** Each event's subscription method on the Inspector: the transports build their fan-out from EVENTS and this. */
export const EVENT_SUBSCRIPTIONS = {
  jobProgress: 'onJobProgress',
  jobFinished: 'onJobFinished',
  stateChanged: 'onStateChanged',
  modelLoading: 'onModelLoading',
  leadChanged: 'onLeadChanged',
} as const satisfies { [E in EventName]: keyof InspectorEvents };

/** Subscribes `handler` to event `name` of an Inspector (a service, a client). */
export function subscribeTo<E extends EventName>(inspector: InspectorEvents, name: E, handler: (payload: EventPayloads[E]) => void): Disposer {
  return (inspector[EVENT_SUBSCRIPTIONS[name]] as (h: (payload: EventPayloads[E]) => void) => Disposer).call(inspector, handler);
}

/** The four onX methods, made from one subscribe function (a client's or the preload's). */
export function eventSubscriptions(subscribe: <E extends EventName>(name: E, handler: (payload: EventPayloads[E]) => void) => Disposer): InspectorEvents {
  return Object.fromEntries(
    EVENTS.map((name) => [EVENT_SUBSCRIPTIONS[name], (handler: (payload: EventPayloads[typeof name]) => void) => subscribe(name, handler)]),
  ) as unknown as InspectorEvents;
}

export const JOB_KINDS = [
  'evaluate',
  'occlusion',
  'atlas',
  'invariance',
  'evolution',
  'correspondence',
  'sparsity',
  'selectivity',
  'gmc',
  'probe',
  'probeTraining',
  'compareModels',
  'datasetReport',
  'report',
  'imagesPerClass',
  'distributedCode',
  'finetune',
  'resumeFinetune',
  'ablation',
  'collectActivations',
  'zooDownload',
] as const satisfies ReadonlyArray<JobKind>;

// Compile-time check that JOB_KINDS lists every job kind.
type MissingJobKinds = Exclude<JobKind, (typeof JOB_KINDS)[number]>;
const _allJobKindsListed: MissingJobKinds extends never ? true : false = true;
void _allJobKindsListed;

// Compile-time check that COMMANDS lists every command exactly.
type MissingCommands = Exclude<keyof InspectorApi, CommandName>;
const _allCommandsListed: MissingCommands extends never ? true : false = true;
void _allCommandsListed;

/** Parameter type of a command. */
export type CommandParams<C extends CommandName> = Parameters<InspectorApi[C]>[0];
