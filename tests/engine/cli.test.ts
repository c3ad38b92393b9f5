/**
 * The `cnn-inspect` CLI as a user runs it (the built bundle, a child process): JSON on stdout, .npy outputs,
 * and every bad input in tests/fixtures/manifest.json answered with its exact error code.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHostileFiles } from '../helpers/hostile-files';
import { decodeNpy } from '../../shared/npy';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'electron', 'cli.cjs');
const TINY = 'tests/fixtures/models/tiny-functional/model.json';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, CNN_INSPECTOR_BACKEND: 'wasm' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'fixtures', 'manifest.json'), 'utf8')) as {
  cases: Array<{ name: string; args: string[]; code: string }>;
};

describe('cnn-inspect: bad inputs get their coded error', () => {
  let hostile = '';
  beforeAll(() => {
    hostile = makeHostileFiles();
  });
  afterAll(() => fs.rmSync(hostile, { recursive: true, force: true }));
  for (const c of manifest.cases) {
    it(`${c.name} → ${c.code}`, async () => {
      const out = await cli(c.args.map((a) => (a === 'TINY' ? TINY : a.startsWith('HOSTILE/') ? path.join(hostile, a.slice('HOSTILE/'.length)) : a)));
      expect(out.code).not.toBe(0);
      expect(out.stdout).toBe('');
      const errorLines = out.stderr.split('\n').filter((l) => l.startsWith('error '));
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toMatch(new RegExp(`^error ${c.code}: \\S`));
    });
  }
});

describe('cnn-inspect on a model the project did not train (functional, RGB, no metadata)', () => {
  it('info lists every layer with output shape and parameter count', async () => {
    const out = await cli(['info', '--model', TINY, '--backend']);
    expect(out.code).toBe(0);
    const info = JSON.parse(out.stdout);
    expect(info.inputShape).toEqual([12, 12, 3]);
    expect(info.classes).toBeUndefined();
    expect(info.layers.map((l: { name: string }) => l.name)).toEqual(['image', 'c1', 'p1', 'flat', 'out']);
    const c1 = info.layers.find((l: { name: string }) => l.name === 'c1');
    expect(c1).toMatchObject({ type: 'Conv2D', outputShape: [10, 10, 4], params: 3 * 3 * 3 * 4 + 4 });
    expect(info.layers.find((l: { name: string }) => l.name === 'out').outputShape).toEqual([3]);
    expect(info.backend).toBe('wasm');
  });

  it('activations of c1 on an exact .npy input equal a convolution computed here from the weight file', async () => {
    const outFile = path.join(os.tmpdir(), `cnn-inspect-c1-${process.pid}.npy`);
    const input = 'tests/fixtures/images/input-12x12x3.npy';
    const out = await cli(['activations', '--model', TINY, '--image', input, '--layer', 'c1', '--out', outFile]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).shape).toEqual([10, 10, 4]);
    const got = decodeNpy(fs.readFileSync(outFile));
    expect(got.shape).toEqual([10, 10, 4]);
    // Independent computation: valid 3×3 convolution + bias + ReLU from the raw weight bytes.
    const json = JSON.parse(fs.readFileSync(path.join(ROOT, TINY), 'utf8'));
    const weightBytes = fs.readFileSync(path.join(ROOT, path.dirname(TINY), 'weights.bin'));
    const weights = new Float32Array(weightBytes.buffer.slice(weightBytes.byteOffset, weightBytes.byteOffset + weightBytes.byteLength));
    let offset = 0;
    const tensors: Record<string, Float32Array> = {};
    for (const spec of json.weightsManifest[0].weights as Array<{ name: string; shape: number[] }>) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      tensors[spec.name] = weights.subarray(offset, offset + n);
      offset += n;
    }
    const kernel = tensors['c1/kernel'];
    const bias = tensors['c1/bias'];
    const x = decodeNpy(fs.readFileSync(path.join(ROOT, input))).data as Float32Array;
    let maxErr = 0;
    for (let y = 0; y < 10; y++)
      for (let xx = 0; xx < 10; xx++)
        for (let co = 0; co < 4; co++) {
          let s = bias[co];
          for (let kh = 0; kh < 3; kh++)
            for (let kw = 0; kw < 3; kw++)
              for (let ci = 0; ci < 3; ci++) s += x[((y + kh) * 12 + (xx + kw)) * 3 + ci] * kernel[((kh * 3 + kw) * 3 + ci) * 4 + co];
          const expected = Math.max(0, s);
          maxErr = Math.max(maxErr, Math.abs((got.data as Float32Array)[(y * 10 + xx) * 4 + co] - expected));
        }
    expect(maxErr).toBeLessThan(1e-5);
    fs.rmSync(outFile, { force: true });
  });

  it('predict returns probabilities that sum to 1, sorted, without labels', async () => {
    const out = await cli(['predict', '--model', TINY, '--image', 'tests/fixtures/images/rgb-12.png', '--top', '3']);
    expect(out.code).toBe(0);
    const { predictions } = JSON.parse(out.stdout) as { predictions: Array<{ index: number; probability: number; label?: string }> };
    expect(predictions).toHaveLength(3);
    expect(predictions.reduce((s, p) => s + p.probability, 0)).toBeCloseTo(1, 5);
    expect(predictions[0].probability).toBeGreaterThanOrEqual(predictions[1].probability);
    expect(predictions[0].label).toBeUndefined();
  });
});

describe('cnn-inspect on the bundled model', () => {
  it('--progress says what a job is doing and how far it is; Ctrl-C cancels it (JOB_CANCELLED, exit 130)', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-cancel-'));
    try {
      const child = spawn(process.execPath, [CLI, 'atlas', '--model', 'default', '--data', 'resources/samples', '--out-dir', out, '--progress'], {
        cwd: ROOT,
        env: { ...process.env, CNN_INSPECTOR_BACKEND: 'wasm' },
      });
      let stderr = '';
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => {
        stderr += d;
        if (/ · \d+ %/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      const code = await new Promise((resolve) => child.on('exit', resolve));
      // Not a terminal: plain lines (no carriage returns), the job's words then the share done.
      expect(stderr).toMatch(/^Measuring how long the atlas will take on this computer… · 0 %$/m);
      expect(stderr).not.toContain('\r');
      expect(stderr).toContain('Cancelling… (Ctrl-C again to quit at once)');
      expect(stderr).toMatch(/^error JOB_CANCELLED: /m);
      expect(code).toBe(130);
      expect(stdout).toBe('');
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);

  it('atlas builds the sheets of the chosen layers into a folder, saying up front how long it takes', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-atlas-'));
    try {
      const res = await cli(['atlas', '--model', 'default', '--data', 'resources/samples', '--layer', 'conv2,fc7', '--k', '4', '--out-dir', out, '--progress']);
      expect(res.code).toBe(0);
      const summary = JSON.parse(res.stdout);
      expect(summary.layers).toEqual([
        { layer: 'conv2', units: 64, spatial: true },
        { layer: 'fc7', units: 256, spatial: false },
      ]);
      expect(summary.images).toBe(500);
      expect(res.stderr).toMatch(/the whole atlas: about \d+ (s|min)/);
      expect(fs.readdirSync(path.join(out, 'sheets', 'conv2'))).toHaveLength(64);
      const layer = JSON.parse(fs.readFileSync(path.join(out, 'layers', 'conv2.json'), 'utf8'));
      expect(layer.units[0].top).toHaveLength(4);
      const few = await cli(['atlas', '--model', 'default', '--data', 'resources/samples', '--layer', 'conv4', '--k', '2', '--units', '3', '--out-dir', out]);
      expect(JSON.parse(few.stdout).layers).toEqual([{ layer: 'conv4', units: 3, spatial: true }]);
      expect(fs.readdirSync(path.join(out, 'sheets', 'conv4')).sort()).toEqual(['unit0.png', 'unit1.png', 'unit2.png']);
      const bad = await cli(['atlas', '--model', 'default', '--data', 'resources/samples', '--layer', 'nope', '--out-dir', out]);
      expect(bad.stderr).toMatch(/^error LAYER_NOT_FOUND: /m);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  it('info names the ZF layers and the ten Fashion-MNIST classes', async () => {
    const out = await cli(['info', '--model', 'default']);
    expect(out.code).toBe(0);
    const info = JSON.parse(out.stdout);
    expect(info.inputShape).toEqual([28, 28, 1]);
    expect(info.classes).toHaveLength(10);
    for (const name of ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc6', 'fc7']) {
      expect(info.layers.some((l: { name: string }) => l.name === name)).toBe(true);
    }
  });

  it('predict on a sample image returns a labelled top-k', async () => {
    const sampleDir = path.join(ROOT, 'resources', 'samples', 'Trouser');
    const file = path.join(sampleDir, fs.readdirSync(sampleDir).sort()[0]);
    const out = await cli(['predict', '--model', 'default', '--image', file, '--top', '10']);
    expect(out.code).toBe(0);
    const { predictions } = JSON.parse(out.stdout);
    expect(predictions).toHaveLength(10);
    expect(predictions[0].label).toBe('Trouser');
  });

  it('`npm run --silent cli` prints nothing but the JSON', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'cli', '--', 'info', '--model', 'default'], { cwd: ROOT });
    expect(() => JSON.parse(stdout)).not.toThrow();
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });
});
