/**
 * The atlas job through the service (worker pool): built into the workspace, then browsed without computing —
 * layers equal a fresh top-k, every unit has a sheet of the right size, bad requests are coded errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobFinished } from '../../shared/contract';
import { defaultAtlasLayers } from '../../electron/engine/analyses/atlas';
import type { LoadedModel } from '../../electron/engine/model/loaded-model';
import { InspectorService } from '../../electron/engine/service';

const ROOT = path.resolve(__dirname, '..', '..');
let service: InspectorService;
let workspace: string;

describe('atlas job', () => {
  beforeAll(async () => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'atlas-ws-'));
    process.env.CNN_INSPECTOR_WORKSPACE = workspace; // inherited by the worker threads
    service = new InspectorService({ workers: 2, preferredBackend: 'wasm' });
    await service.openModel({ path: path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json') });
    await service.openDataset({ path: path.join(ROOT, 'tests/fixtures/datasets/mixed') });
  });
  afterAll(async () => {
    await service?.dispose();
    delete process.env.CNN_INSPECTOR_WORKSPACE;
    fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('builds with progress, then browses from disk', async () => {
    expect(await service.getAtlas()).toBeNull();
    const finished = new Promise<JobFinished>((resolve) => service.onJobFinished(resolve));
    const { jobId } = await service.startJob({ kind: 'atlas', params: { k: 2 } });
    expect((await finished).status).toBe('done');
    const summary = await service.getJobResult<'atlas'>({ jobId });
    expect(summary.layers).toEqual([
      { layer: 'c1', units: 4, spatial: true },
      { layer: 'out', units: 3, spatial: false },
    ]);
    expect(summary.images).toBe(3);
    expect(await service.getAtlas()).toEqual(summary);
    const c1 = await service.getAtlasLayer({ layer: 'c1' });
    expect(c1.units).toHaveLength(4);
    for (const u of c1.units) {
      expect(u.top).toHaveLength(2);
      expect(u.top[0].value).toBeGreaterThanOrEqual(u.top[1].value);
      expect(u.top[0].box).toHaveLength(4);
    }
    const sheet = await service.getAtlasSheet({ layer: 'c1', unit: 3 });
    const meta = await sharp(Buffer.from(sheet)).metadata();
    // 2 winners → a 2×2 block of 40-pixel tiles on each side: projections | patches.
    expect([meta.width, meta.height]).toEqual([2 * 82 + 12, 82]);
    const dense = await sharp(Buffer.from(await service.getAtlasSheet({ layer: 'out', unit: 0 }))).metadata();
    expect(dense.width).toBe(82);
  });

  it('refuses unknown layers and units, and path tricks', async () => {
    await expect(service.getAtlasLayer({ layer: 'nope' })).rejects.toMatchObject({ code: 'LAYER_NOT_FOUND' });
    await expect(service.getAtlasLayer({ layer: '../../etc/passwd' })).rejects.toMatchObject({ code: 'LAYER_NOT_FOUND' });
    await expect(service.getAtlasSheet({ layer: 'c1', unit: 4 })).rejects.toMatchObject({ code: 'UNIT_OUT_OF_RANGE' });
    await expect(service.startJob({ kind: 'atlas', params: { k: 0 } })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});

describe('default atlas layers', () => {
  const model = (n: number, size: number) =>
    ({
      summary: {
        inputShape: [size, size, 3],
        layers: [
          { name: 'input', type: 'InputLayer', outputShape: [size, size, 3] },
          ...Array.from({ length: n }, (_, i) => ({ name: `conv${i}`, type: 'Conv2D', outputShape: [8, 8, 64] })),
          { name: 'pool', type: 'MaxPooling2D', outputShape: [4, 4, 64] },
          { name: 'fc', type: 'Dense', outputShape: [10] },
        ],
      },
    }) as unknown as LoadedModel;

  it('a small model: every convolution and dense layer', () => {
    expect(defaultAtlasLayers(model(5, 28))).toEqual(['conv0', 'conv1', 'conv2', 'conv3', 'conv4', 'fc']);
  });

  it('a big model: five layers from the first to the last', () => {
    expect(defaultAtlasLayers(model(20, 224))).toEqual(['conv0', 'conv5', 'conv11', 'conv16', 'fc']);
  });
});
