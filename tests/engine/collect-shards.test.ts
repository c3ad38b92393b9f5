/**
 * The activation collection spread over processes, as a cluster job runs it: four `collect --shard i/4` processes
 * at once, then `collect-merge`, give byte for byte the files one `collect` process writes (an unreadable image
 * skipped in its place), and the analyze commands then run on the merged collection without collecting again.
 * Parts that do not make one whole are refused, saying why.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { topBottom, writeImageFolder } from '../helpers/image-folders';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'electron', 'cli.cjs');
const TINY = path.join(ROOT, 'tests', 'fixtures', 'models', 'tiny-functional', 'model.json');

let dir: string;
let data: string;

/** The CLI in a workspace of its own; its JSON answer. */
async function cli(workspace: string, args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, CNN_INSPECTOR_WORKSPACE: workspace } });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** The CLI's coded error (its stderr line), or 'ok'. */
async function cliError(workspace: string, args: string[]): Promise<string> {
  return cli(workspace, args).then(
    () => 'ok',
    (e: { stderr?: string }) => e.stderr?.trim() ?? String(e),
  );
}

const collectArgs = (extra: string[]) => ['collect', '--model', 'bundled:default', '--data', data, '--layers', 'conv2,fc7', '--maps', ...extra];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'collect-shards-'));
  data = path.join(dir, 'images');
  await writeImageFolder(data, ['bottom', 'middle', 'top'], 7, 11, topBottom, 28);
  // One unreadable file, in shard 2's part: skipped there, and in the same place in the whole collection.
  fs.writeFileSync(path.join(data, 'middle', '3b.png'), Buffer.from('not a png at all'));
}, 60_000);

describe('sharded activation collection', () => {
  it('four shard processes merged equal one process byte for byte, and the analyses run on the merged collection', async () => {
    const shardWs = path.join(dir, 'ws-shards');
    const parts = [0, 1, 2, 3].map((i) => path.join(dir, `part${i}`));
    const answers = await Promise.all(parts.map((out, i) => cli(shardWs, collectArgs(['--shard', `${i}/4`, '--out-dir', out]))));
    // 22 entries in four runs of 5, 6, 5, 6; the broken file is entry 11 (middle/3b.png sorts after 3.png): shard 2's.
    expect(answers.map((a) => (a.shard as { start: number; end: number }).end - (a.shard as { start: number }).start)).toEqual([5, 6, 5, 6]);
    expect(answers.map((a) => a.images)).toEqual([5, 6, 4, 6]);
    const merged = await cli(shardWs, [
      'collect-merge',
      '--model',
      'bundled:default',
      '--data',
      data,
      '--parts',
      parts.join(','),
      '--out-dir',
      path.join(dir, 'merged'),
    ]);
    expect(merged).toMatchObject({ images: 21, parts: 4, skipped: [{ file: expect.stringMatching(/3b\.png$/), code: 'IMAGE_UNSUPPORTED_TYPE' }] });

    const wholeWs = path.join(dir, 'ws-whole');
    const whole = await cli(wholeWs, collectArgs(['--out-dir', path.join(dir, 'whole')]));
    const files = fs.readdirSync(path.join(dir, 'whole')).filter((f) => f.endsWith('.npy'));
    expect(files.sort()).toEqual(['conv2.maps.npy', 'conv2.max.npy', 'conv2.nonzero.npy', 'fc7.maps.npy', 'fc7.max.npy', 'fc7.nonzero.npy', 'labels.npy']);
    for (const f of files) expect(fs.readFileSync(path.join(dir, 'merged', f)).equals(fs.readFileSync(path.join(dir, 'whole', f))), f).toBe(true);
    const manifest = (d: string) => JSON.parse(fs.readFileSync(path.join(dir, d, 'manifest.json'), 'utf8'));
    expect(manifest('merged')).toEqual(manifest('whole'));
    expect(merged.skipped).toEqual(whole.skipped);

    // The analyses on the merged collection: the same numbers as on the whole one, and nothing collected again.
    const labels = path.join(merged.labels as string);
    const before = fs.statSync(labels).mtimeMs;
    const analyze = (ws: string, what: string, extra: string[]) =>
      cli(ws, ['analyze', what, '--model', 'bundled:default', '--data', data, ...extra, '--out', path.join(dir, `${path.basename(ws)}-${what}.csv`)]);
    for (const [what, extra] of [
      ['sparsity', ['--layers', 'conv2,fc7']],
      ['selectivity', ['--layer', 'fc7']],
    ] as const) {
      const [a, b] = await Promise.all([analyze(shardWs, what, [...extra]), analyze(wholeWs, what, [...extra])]);
      expect({ ...a, out: '' }).toEqual({ ...b, out: '' });
    }
    const collections = fs.readdirSync(path.join(shardWs, 'activations'));
    expect(collections).toHaveLength(1);
    expect(fs.statSync(path.join(shardWs, 'activations', collections[0], 'labels.npy')).mtimeMs).toBe(before);
  }, 120_000);

  it('parts that do not make one whole are refused, saying which', async () => {
    const ws = path.join(dir, 'ws-bad');
    const part = (i: number, n: number) => path.join(dir, `bad${i}of${n}`);
    await Promise.all([
      cli(ws, collectArgs(['--shard', '0/2', '--out-dir', part(0, 2)])),
      cli(ws, collectArgs(['--shard', '1/2', '--out-dir', part(1, 2)])),
      cli(ws, collectArgs(['--shard', '1/3', '--out-dir', part(1, 3)])),
    ]);
    const merge = (parts: string[], model = 'bundled:default') =>
      cliError(ws, ['collect-merge', '--model', model, '--data', data, '--parts', parts.join(','), '--out-dir', path.join(dir, 'bad-out')]);
    expect(await merge([part(0, 2)])).toBe('error BAD_ARGUMENT: Shard 1/2 missing');
    expect(await merge([part(0, 2), part(0, 2)])).toMatch(/^error BAD_ARGUMENT: .* are both shard 0\/2/);
    expect(await merge([part(0, 2), part(1, 3)])).toMatch(/^error BAD_ARGUMENT: .* is a shard of 3/);
    expect(await merge([part(0, 2), part(1, 2)], TINY)).toMatch(/^error BAD_ARGUMENT: .* another model or image folder/);
    expect(await merge([part(0, 2), path.join(dir, 'nowhere')])).toMatch(/^error FILE_NOT_FOUND: No collection at/);
    expect(await cliError(ws, collectArgs(['--shard', '4/4', '--out-dir', part(4, 4)]))).toMatch(/^error BAD_ARGUMENT: .*shard/);
    // A merge that was refused left no collection behind for the analyses to pick up.
    expect(fs.existsSync(path.join(dir, 'bad-out'))).toBe(false);
  }, 120_000);
});
