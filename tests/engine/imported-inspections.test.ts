/**
 * Every inspection on models brought from elsewhere, through the CLI as a user runs it: an ONNX model with a
 * residual add, a concatenation and baked-in normalisation (exported by PyTorch), and a Keras 3 functional model.
 * Each command must succeed and produce output of the right shape; projections must be non-zero.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeNpy } from '../../shared/npy';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'electron', 'cli.cjs');

async function cli(args: string[]): Promise<unknown> {
  const { stdout } = await run(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, CNN_INSPECTOR_BACKEND: 'wasm', CNN_INSPECTOR_WORKSPACE: work },
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'imported-'));
// A small image folder: three classes of the bundled samples, six images each.
const data = path.join(work, 'data');
for (const cls of ['Trouser', 'Sneaker', 'Bag']) {
  fs.mkdirSync(path.join(data, cls), { recursive: true });
  for (const f of fs
    .readdirSync(path.join(ROOT, 'resources', 'samples', cls))
    .sort()
    .slice(0, 6))
    fs.copyFileSync(path.join(ROOT, 'resources', 'samples', cls, f), path.join(data, cls, f));
}
const image = path.join(data, 'Bag', fs.readdirSync(path.join(data, 'Bag')).sort()[0]);

const MODELS = [
  { model: 'tests/fixtures/onnx/residual-concat.onnx', conv: 'branch3', deep: 'pool', dense: 'fc', size: [24, 24, 3] },
  { model: 'tests/fixtures/keras/functional.keras', conv: 'a', deep: 'cat', dense: 'logits', size: [16, 16, 1] },
];

describe('every inspection on imported models', () => {
  for (const m of MODELS) {
    it(`${path.basename(m.model)}: predict, activations, projections, occlusion, atlas, analyses, fine-tuning, export`, async () => {
      const out = (name: string) => path.join(work, `${path.basename(m.model)}-${name}`);
      expect(((await cli(['predict', '--model', m.model, '--image', image, '--top', '2'])) as { predictions: unknown[] }).predictions).toHaveLength(2);
      await cli(['activations', '--model', m.model, '--image', image, '--layer', m.deep, '--out', out('act.npy')]);
      expect(decodeNpy(fs.readFileSync(out('act.npy'))).shape.length).toBe(3);
      for (const method of ['deconv', 'guided', 'gradient']) {
        await cli(['deconv', '--model', m.model, '--image', image, '--layer', m.deep, '--unit', '1', '--method', method, '--out', out(`${method}.npy`)]);
        const p = decodeNpy(fs.readFileSync(out(`${method}.npy`)));
        expect(p.shape).toEqual(m.size);
        expect(Array.from(p.data).some((v) => v !== 0)).toBe(true);
      }
      await cli(['occlusion', '--model', m.model, '--image', image, '--patch', '4', '--stride', '4', '--layer', m.conv, '--out-dir', out('occ')]);
      expect(fs.existsSync(path.join(out('occ'), 'probability.npy'))).toBe(true);
      const atlas = (await cli(['topk', '--model', m.model, '--data', data, '--layer', m.deep, '--k', '3', '--out-dir', out('atlas')])) as { images: number };
      expect(atlas.images).toBe(18);
      expect(((await cli(['evaluate', '--model', m.model, '--data', data])) as { count: number }).count).toBe(18);
      await cli(['invariance', '--model', m.model, '--data', data, '--images', '0,7', '--low', m.conv, '--high', m.deep, '--out', out('inv.csv')]);
      await cli(['analyze', 'sparsity', '--model', m.model, '--data', data, '--out', out('sparsity.csv')]);
      await cli(['analyze', 'selectivity', '--model', m.model, '--data', data, '--layer', m.deep, '--out', out('aue.csv')]);
      await cli(['analyze', 'gmc', '--model', m.model, '--data', data, '--layer', m.dense, '--out', out('gmc.csv'), '--curves', out('curves.csv')]);
      // Precision–recall curves: per class its best units (at most five) and the random-unit baseline, 51 recall levels each.
      const units = new Set(
        fs
          .readFileSync(out('gmc.csv'), 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(',')[1]),
      ).size;
      const curveLines = fs.readFileSync(out('curves.csv'), 'utf8').trim().split('\n');
      expect(curveLines[0]).toBe('class,curve,units,ap,recall,precision');
      expect(curveLines.length - 1).toBe(3 * (Math.min(5, units) + 1) * 51);
      expect(curveLines.filter((l) => /,random,/.test(l))).toHaveLength(3 * 51);
      await cli([
        'analyze',
        'probe',
        '--model',
        m.model,
        '--data',
        data,
        '--layers',
        m.deep,
        '--ablations',
        'original',
        '--seeds',
        '1',
        '--out',
        out('probe.csv'),
      ]);
      for (const f of ['inv.csv', 'sparsity.csv', 'aue.csv', 'gmc.csv', 'probe.csv'])
        expect(fs.readFileSync(out(f), 'utf8').split('\n').length, f).toBeGreaterThan(2);
      const tuned = (await cli([
        'finetune',
        '--model',
        m.model,
        '--data',
        data,
        '--strategy',
        'features',
        '--epochs',
        '3',
        '--batch',
        '8',
        '--out',
        out('tuned'),
      ])) as { out: string };
      expect(((await cli(['info', '--model', tuned.out])) as { classes: string[] }).classes).toEqual(['Bag', 'Sneaker', 'Trouser']);
      const exported = (await cli(['export', '--model', tuned.out, '--format', 'onnx', '--out', out('tuned.onnx')])) as { path: string };
      expect(((await cli(['info', '--model', exported.path])) as { format: string }).format).toBe('onnx');
    }, 240_000);
  }
});
