/** Filter bank: kernel layout, RMS per filter computed here independently, and the dominance flag. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { filterBank } from '../../electron/engine/analyses/filters';
import { initBackend } from '../../electron/engine/backend';
import { openModel } from '../../electron/engine/model/loaded-model';
import { fileSystemSaver } from '../../electron/engine/model/tfjs-io';

describe('filter bank (ZF Fig. 6a)', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('RMS per filter matches a direct computation; a filter 10× larger than the rest is flagged', async () => {
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({ name: 'conv1', inputShape: [8, 8, 3], filters: 6, kernelSize: 3 }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 2 }));
    const k = Float32Array.from({ length: 3 * 3 * 3 * 6 }, (_, i) => Math.sin(i * 1.7) * 0.1);
    for (let i = 0; i < 27; i++) k[i * 6 + 4] *= 10; // filter 4 dominates
    m.layers[0].setWeights([tf.tensor(k, [3, 3, 3, 6]), tf.zeros([6])]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'filters-'));
    await m.save(fileSystemSaver(dir));
    const loaded = await openModel(path.join(dir, 'model.json'), 'f');
    const bank = filterBank(loaded);
    expect(bank.layer).toBe('conv1');
    expect(bank.shape).toEqual([3, 3, 3, 6]);
    for (let o = 0; o < 6; o++) {
      let s = 0;
      for (let i = 0; i < 27; i++) s += k[i * 6 + o] ** 2;
      expect(bank.rms[o]).toBeCloseTo(Math.sqrt(s / 27), 6);
    }
    expect(bank.dominant.map((d) => d.unit)).toEqual([4]);
    expect(bank.dominant[0].ratio).toBeGreaterThan(5);
    const dense = loaded.summary.layers.find((l) => l.type === 'Dense')!.name;
    expect(() => filterBank(loaded, dense)).toThrowError(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
    expect(() => filterBank(loaded, 'nope')).toThrowError(expect.objectContaining({ code: 'LAYER_NOT_FOUND' }));
    loaded.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
