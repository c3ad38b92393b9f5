/**
 * Cached analyses: the second run of the same analysis on the same model and images is read back from the
 * workspace (identical result, no recomputation); a change to the images' folder recomputes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeJobContext } from '../../electron/engine/base/job-context';
import { EngineCore } from '../../electron/engine/core';

const ROOT = path.resolve(__dirname, '..', '..');
let workspace: string;
let data: string;

describe('result cache', () => {
  beforeAll(() => {
    workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-ws-'));
    process.env.CNN_INSPECTOR_WORKSPACE = workspace;
    data = path.join(workspace, 'data');
    fs.cpSync(path.join(ROOT, 'tests/fixtures/datasets/mixed'), data, { recursive: true });
  });
  afterAll(() => {
    delete process.env.CNN_INSPECTOR_WORKSPACE;
    fs.rmSync(workspace, { recursive: true, force: true });
  });

  it('serves the second identical analysis from disk and recomputes when the folder changes', async () => {
    const core = new EngineCore();
    await core.init({ preferred: 'wasm' });
    await core.openModel(path.join(ROOT, 'tests/fixtures/models/tiny-functional/model.json'));
    await core.openDataset(data);
    const messages: string[] = [];
    const ctx = makeJobContext(
      (_d, _t, m) => messages.push(m),
      () => false,
    );
    const first = await core.runJob('sparsity', { layers: ['c1', 'out'] }, ctx);
    expect(messages.at(-1)).not.toBe('Loaded the saved result');
    expect(fs.readdirSync(path.join(workspace, 'cache'))).toHaveLength(1);
    const second = await core.runJob('sparsity', { layers: ['c1', 'out'] }, ctx);
    expect(messages.at(-1)).toBe('Loaded the saved result');
    expect(second).toEqual(first);
    // Different parameters → a different entry.
    await core.runJob('sparsity', { layers: ['c1'] }, ctx);
    expect(fs.readdirSync(path.join(workspace, 'cache'))).toHaveLength(2);
    // A new image in the folder → recomputed.
    fs.copyFileSync(path.join(data, 'Bag', 'a.png'), path.join(data, 'Trouser', 'copy.png'));
    await core.openDataset(data);
    await core.runJob('sparsity', { layers: ['c1', 'out'] }, ctx);
    expect(messages.at(-1)).not.toBe('Loaded the saved result');
    expect(fs.readdirSync(path.join(workspace, 'cache'))).toHaveLength(3);
  });
});
