/**
 * How long an atlas will take, measured on this computer before it starts: one timed batch of the top-k scan and
 * one timed deconvnet run of the deepest layer's unit, scaled to the dataset and to every layer by its projection
 * cost. The atlas reports its progress in these estimated milliseconds, so its bar and time left read right from
 * the first seconds, across both phases — and its messages say the whole time up front.
 */
import type { Dataset } from '../data/dataset';
import type { LoadedModel } from '../model/loaded-model';
import { batchMaxima } from '../runtime/batch-forward';
import { batchDeconvnet, switchedDeconvnet } from '../runtime/batch-projection';
import { projectUnitBatch } from './projection';

/**
 * The relative cost of projecting one winner of `layer`: the multiply–adds of every layer up to it (the way down
 * costs about what the way up does).
 */
export function projectionCost(loaded: LoadedModel, layer: string): number {
  let cost = 1;
  for (const l of loaded.summary.layers) {
    cost += l.macs ?? 0;
    if (l.name === layer) break;
  }
  return cost;
}

/** How many projections one ONNX Runtime run takes: the activations below the layer, up and down, under ~256 MiB. */
export function projectionsPerRun(loaded: LoadedModel, layer: string): number {
  let floats = 0;
  for (const l of loaded.summary.layers) {
    floats += l.outputShape.reduce((a, b) => a * b, 1);
    if (l.name === layer) break;
  }
  return Math.max(1, Math.min(96, Math.floor((256 * 1048576) / (8 * Math.max(floats, 1)))));
}

export interface AtlasPlan {
  /** Estimated milliseconds per scanned image. */
  scanMsPerImage: number;
  /** Estimated milliseconds to draw one unit's sheet of a layer (its k projections included). */
  unitMs(layer: string): number;
  scanMs: number;
  drawMs: number;
}

/** Deterministic stand-in inputs for timing (the values do not change the work). */
function timingInputs(loaded: LoadedModel, n: number): Float32Array {
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n * size }, (_, i) => ((i * 7919) % 1000) / 1000);
}

async function timed(run: () => unknown): Promise<number> {
  await run(); // the first run allocates
  const start = performance.now();
  await run();
  return performance.now() - start;
}

/**
 * Milliseconds for one unit's k projections of `layer` on the engine the atlas will use for it, and for one image's
 * switches where that engine computes them apart (once per image for the whole atlas).
 */
async function timeUnit(loaded: LoadedModel, layer: string, k: number, inputs: Float32Array): Promise<{ unit: number; switchesPerImage: number }> {
  const info = loaded.summary.layers.find((l) => l.name === layer)!;
  const center = [Math.floor(info.outputShape[0] / 2), Math.floor(info.outputShape[1] / 2)];
  const seeds = Array.from({ length: k }, () => ({ unit: 0, position: center, value: 1 }));
  const { deconvnet: halves } = await switchedDeconvnet(loaded, layer);
  if (halves) {
    try {
      let switches: Int32Array[][] = [];
      const switchesMs = await timed(async () => (switches = await halves.switchesOf(inputs, k)));
      return { unit: await timed(() => halves.project(switches, seeds)), switchesPerImage: switchesMs / k };
    } finally {
      await halves.release(); // made again when the layer is drawn: not held through the others
    }
  }
  const { deconvnet } = await batchDeconvnet(loaded, layer);
  if (deconvnet) return { unit: await timed(() => deconvnet.project(inputs, seeds)).finally(() => deconvnet.release()), switchesPerImage: 0 };
  const size = loaded.summary.inputShape.reduce((a, b) => a * b, 1);
  const images = Array.from({ length: k }, (_, i) => inputs.subarray(i * size, (i + 1) * size));
  const unit = await timed(() =>
    projectUnitBatch(
      loaded,
      images,
      layer,
      0,
      'deconv',
      images.map(() => center),
    ),
  );
  return { unit, switchesPerImage: 0 };
}

/**
 * Measures the scan, and the projections of the cheapest and the dearest spatial layer — a unit's time is close to
 * a fixed part plus a part in proportion to its projection cost, fitted through the two. `spatialUnits`: the units
 * to draw per spatial layer.
 */
export async function planAtlas(loaded: LoadedModel, dataset: Dataset, layers: string[], spatialUnits: Map<string, number>, k: number): Promise<AtlasPlan> {
  const batch = 4;
  const scan = await batchMaxima(loaded, layers);
  const inputs = timingInputs(loaded, Math.max(batch, k));
  // Decoding overlaps the forward pass (prefetch); a tenth more covers what it does not hide.
  const scanMsPerImage = ((await timed(() => scan.run(inputs, batch))) / batch) * 1.1;
  const byCost = [...spatialUnits.keys()].sort((a, b) => projectionCost(loaded, a) - projectionCost(loaded, b));
  let unitMs = (_layer: string) => 0;
  if (byCost.length > 0) {
    const [cheap, dear] = [byCost[0], byCost[byCost.length - 1]];
    const [c0, c1] = [projectionCost(loaded, cheap), projectionCost(loaded, dear)];
    const dearest = await timeUnit(loaded, dear, k, inputs);
    const t1 = dearest.unit;
    const t0 = cheap === dear ? t1 : (await timeUnit(loaded, cheap, k, inputs)).unit;
    const slope = c1 > c0 ? Math.max(0, (t1 - t0) / (c1 - c0)) : 0;
    // Every image's switches once (the dearest layer has the most pools below it), spread over the units; sheets:
    // a few milliseconds per unit besides the projections.
    const units = [...spatialUnits.values()].reduce((a, b) => a + b, 0);
    const switchesPerUnit = (dearest.switchesPerImage * Math.min(dataset.entries.length, units * k)) / Math.max(1, units);
    unitMs = (layer: string) => (spatialUnits.has(layer) ? Math.max(0, t0 + slope * (projectionCost(loaded, layer) - c0)) + switchesPerUnit + 3 : 0);
  }
  const drawMs = [...spatialUnits].reduce((s, [layer, units]) => s + units * unitMs(layer), 0);
  return { scanMsPerImage, unitMs, scanMs: scanMsPerImage * dataset.entries.length, drawMs };
}

/** "about 21 min", "about 40 s". */
export function aboutTime(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `about ${Math.max(1, Math.round(s))} s`;
  if (s < 90 * 60) return `about ${Math.round(s / 60)} min`;
  return `about ${(s / 3600).toFixed(1)} h`;
}
