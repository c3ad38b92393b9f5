/**
 * Architecture ablation (ZF Table 3): variants are built as asked (layers removed with their dropout, widths
 * changed, the classifier sized for the person's classes), their weight counts match hand counts, every variant
 * trains with the same budget, bad variants are coded errors, and no tensor is left behind.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { initBackend } from '../../electron/engine/backend';
import { openDataset } from '../../electron/engine/data/dataset';
import { openModel } from '../../electron/engine/model/loaded-model';
import { architectureAblation, variantConfig } from '../../electron/engine/train/ablation';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const ROOT = path.resolve(__dirname, '..', '..');
const BUNDLED = path.join(ROOT, 'resources/model/model.json');
const TINY = path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json');
const quiet = makeJobContext(
  () => undefined,
  () => false,
);
let dir: string;

async function built(config: ReturnType<typeof variantConfig>['config']): Promise<tfl.LayersModel> {
  return (await tfl.models.modelFromJSON({ modelTopology: config as unknown as tf.serialization.ConfigDict })) as tfl.LayersModel;
}

describe('architecture ablation', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ablation-'));
    await writeImageFolder(path.join(dir, 'data'), ['top', 'bottom'], 20, 7, topBottom);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds the variants of the bundled model with the weight counts a hand count gives', async () => {
    const loaded = await openModel(BUNDLED, 'bundled');
    const count = async (variant: Parameters<typeof variantConfig>[1]) => {
      const { config, removed } = variantConfig(loaded.model, variant, 10);
      const m = await built(config);
      const n = m.countParams();
      const names = m.layers.map((l) => l.name);
      m.dispose();
      return { n, removed, names };
    };
    const full = await count({ name: 'full' });
    expect(full.n).toBe(loaded.model.countParams());
    // conv4 is 3×3, 96 → 96 channels: 9·96·96 + 96 weights; nothing else changes shape.
    const noConv4 = await count({ name: 'no conv4', remove: ['conv4'] });
    expect(full.n - noConv4.n).toBe(9 * 96 * 96 + 96);
    // fc7 is 256 → 256; its dropout goes with it.
    const noFc7 = await count({ name: 'no fc7', remove: ['fc7'] });
    expect(noFc7.removed).toEqual(['drop7', 'fc7']);
    expect(noFc7.names).not.toContain('drop7');
    expect(full.n - noFc7.n).toBe(256 * 256 + 256);
    // conv5 64 → 32 filters: its own weights halve and fc6 reads a 3·3·32 map instead of 3·3·64.
    const narrow = await count({ name: 'narrow conv5', resize: { conv5: 32 } });
    expect(full.n - narrow.n).toBe(9 * 96 * 32 + 32 + 3 * 3 * 32 * 256);
    // Removing the first layer moves the input shape to the next one.
    const noConv1 = await count({ name: 'no conv1', remove: ['conv1'] });
    expect(noConv1.names[0]).toBe('pool1');
    // The classifier is sized for the person's classes.
    const { config } = variantConfig(loaded.model, { name: 'three classes' }, 3);
    const three = await built(config);
    expect(three.outputs[0].shape).toEqual([null, 3]);
    three.dispose();
    loaded.dispose();
  });

  it('refuses unknown layers, the classifier, the input, and widths of layers that have none', async () => {
    const loaded = await openModel(TINY, 'tiny');
    expect(() => variantConfig(loaded.model, { name: 'x', remove: ['conv9'] }, 2)).toThrow(expect.objectContaining({ code: 'LAYER_NOT_FOUND' }));
    expect(() => variantConfig(loaded.model, { name: 'x', remove: ['out'] }, 2)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => variantConfig(loaded.model, { name: 'x', remove: ['image'] }, 2)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => variantConfig(loaded.model, { name: 'x', resize: { p1: 3 } }, 2)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    loaded.dispose();
  });

  it('trains every variant with the same budget on a functional model; errors are fractions of the split; tensors back to baseline', async () => {
    const loaded = await openModel(TINY, 'tiny');
    const dataset = openDataset(path.join(dir, 'data'), 'tb');
    const before = tf.memory().numTensors;
    const r = await architectureAblation(
      loaded,
      dataset,
      {
        variants: [
          { name: 'no pooling', remove: ['p1'] },
          { name: 'two filters', resize: { c1: 2 } },
        ],
        epochs: 12,
        batchSize: 8,
        seed: 3,
      },
      quiet,
    );
    expect(r.rows.map((x) => x.variant)).toEqual(['Full model', 'no pooling', 'two filters']);
    expect([r.trainImages, r.validationImages]).toEqual([32, 8]);
    for (const row of r.rows) {
      expect(row.history).toHaveLength(12);
      // Errors are whole numbers of images out of the split.
      expect(Math.abs(row.trainError * 32 - Math.round(row.trainError * 32))).toBeLessThan(1e-9);
      expect(Math.abs(row.validationError * 8 - Math.round(row.validationError * 8))).toBeLessThan(1e-9);
    }
    // c1 is 3×3 'valid', 3 → 4 channels (12×12 → 10×10, pooled to 5×5); "two filters" keeps half, and the dense
    // layer (2 outputs) reads half as many features.
    const full = r.rows[0];
    expect(full.parameters - r.rows[2].parameters).toBe(9 * 3 * 2 + 2 + 5 * 5 * 2 * 2);
    // Without pooling the dense layer reads the 10×10 map instead of 5×5.
    expect(r.rows[1].parameters - full.parameters).toBe((10 * 10 - 5 * 5) * 4 * 2);
    expect(full.validationError).toBeLessThanOrEqual(0.25);
    expect(tf.memory().numTensors).toBe(before);
    // A folder too big for memory (here: any) trains from a file on disk, removed afterwards, to the same kind of table.
    process.env.CNN_INSPECTOR_IMAGES_IN_MEMORY = '1000';
    try {
      const fromDisk = await architectureAblation(
        loaded,
        dataset,
        { variants: [{ name: 'two filters', resize: { c1: 2 } }], epochs: 12, batchSize: 8, seed: 3 },
        quiet,
      );
      expect(fromDisk.rows.map((x) => x.parameters)).toEqual([r.rows[0].parameters, r.rows[2].parameters]);
      expect(fromDisk.rows[0].validationError).toBeLessThanOrEqual(0.25);
      const tmp = path.join(process.env.CNN_INSPECTOR_WORKSPACE!, 'tmp');
      expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([]);
    } finally {
      delete process.env.CNN_INSPECTOR_IMAGES_IN_MEMORY;
    }
    loaded.dispose();
  });

  it('the CLI writes the ablation table as CSV with one row per variant', async () => {
    const run = promisify(execFile);
    const out = path.join(dir, 'ablation.csv');
    const { stdout } = await run(process.execPath, [
      path.join(ROOT, 'dist/electron/cli.cjs'),
      'ablate',
      '--model',
      TINY,
      '--data',
      path.join(dir, 'data'),
      '--variants',
      'p1; c1=2',
      '--epochs',
      '3',
      '--batch',
      '8',
      '--out',
      out,
    ]);
    const printed = JSON.parse(stdout);
    expect(printed.rows.map((r: { variant: string }) => r.variant)).toEqual(['Full model', 'p1', 'c1=2']);
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('variant,removed,resized,parameters,train_error,validation_error,seconds');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['Full model', 'p1', 'c1=2']); // RFC 4180: quoted only when needed
    expect(Number(lines[3].split(',')[3])).toBe(printed.rows[2].parameters);
  }, 60_000);
});
