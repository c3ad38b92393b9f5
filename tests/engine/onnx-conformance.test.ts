/**
 * The ONNX project's own backend test data (../shared/onnx-conformance: the node tests of the operators image CNNs
 * use, and PyTorch-exported modules) run through CNN Inspector's ONNX import, each against its recorded output.
 * A test is image-shaped when it has one input [N, C, H, W] and one output of 4 (NCHW) or 2 ([N, K]) dimensions;
 * the rest (1-D, 3-D, 5-D, several inputs: not images a person opens) are counted apart. Every image-shaped test
 * must end one of two ways: it opens and matches the recorded output, or it is refused with a coded error that
 * says why (counted apart when the converter does not list its operator at all). Inputs after the first are made
 * constants of their recorded values (a convolution's weights, an addend). A wrong number or an uncoded crash fails the suite. The counts go to test-results/onnx-conformance.json.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { toErrorInfo } from '../../shared/errors';
import { initBackend } from '../../electron/engine/backend';
import { openModel } from '../../electron/engine/model/loaded-model';
import { SUPPORTED_ONNX_OPS } from '../../electron/engine/model/onnx/convert';
import { onnxType } from '../../electron/engine/model/onnx/proto';

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = path.resolve(ROOT, '..', 'shared', 'onnx-conformance');
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator'];
const available = fs.existsSync(DATA);
if (!available) console.log(`skipped: ONNX conformance suite (${DATA} missing)`);

interface TensorProto {
  dims: unknown[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
}
interface ValueInfo {
  name: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: Array<{ dimValue?: unknown }> } } };
}
interface ModelProto {
  graph: { node: Array<{ opType: string }>; input: ValueInfo[]; output: ValueInfo[]; initializer: Array<{ name: string }> };
}

/** A float32 TensorProto as dims and values (undefined for other element types). */
function readTensor(file: string): { dims: number[]; data: Float32Array } | undefined {
  const t = onnxType('TensorProto').decode(fs.readFileSync(file)) as unknown as TensorProto;
  if (t.dataType !== 1) return undefined;
  const dims = t.dims.map(Number);
  if (t.rawData && t.rawData.length)
    return { dims, data: new Float32Array(t.rawData.buffer.slice(t.rawData.byteOffset, t.rawData.byteOffset + t.rawData.byteLength)) };
  return { dims, data: Float32Array.from(t.floatData ?? []) };
}

const nchwToNhwc = (x: Float32Array, [n, c, h, w]: number[]) =>
  tf.tidy(() => tf.transpose(tf.tensor4d(x, [n, c, h, w]), [0, 2, 3, 1]).dataSync() as Float32Array);

export type Outcome = 'passed' | 'wrong' | 'refused' | 'operator not listed' | 'crashed' | 'not an image';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-conformance-'));

/**
 * The test's model with every input after the first made a constant of its recorded value (a convolution's
 * weights, an addend, a shape): a CNN Inspector model takes one image and carries the rest as weights.
 */
function withConstantInputs(dir: string, set: string): { file: string; inputs: number } {
  const type = onnxType('ModelProto');
  const model = type.decode(fs.readFileSync(path.join(dir, 'model.onnx'))) as unknown as ModelProto;
  const initializers = new Set(model.graph.initializer.map((i) => i.name));
  const inputs = model.graph.input.filter((i) => !initializers.has(i.name));
  for (const [k, info] of inputs.entries()) {
    const recorded = path.join(set, `input_${k}.pb`);
    if (k === 0 || !fs.existsSync(recorded)) continue;
    const tensor = onnxType('TensorProto').decode(fs.readFileSync(recorded)) as unknown as { name: string };
    tensor.name = info.name;
    model.graph.initializer.push(tensor);
  }
  const file = path.join(TMP, `${path.basename(path.dirname(dir))}-${path.basename(dir)}.onnx`);
  fs.writeFileSync(file, type.encode(model as never).finish());
  return { file, inputs: inputs.filter((_, k) => k === 0 || !fs.existsSync(path.join(set, `input_${k}.pb`))).length };
}

/** Opens one test's model, runs every image of its first data set and compares with the recorded output. */
async function runOne(dir: string): Promise<{ outcome: Outcome; detail: string }> {
  const set = path.join(dir, 'test_data_set_0');
  const { file, inputs: left } = withConstantInputs(dir, set);
  const input = fs.existsSync(path.join(set, 'input_0.pb')) ? readTensor(path.join(set, 'input_0.pb')) : undefined;
  const expected = fs.existsSync(path.join(set, 'output_0.pb')) ? readTensor(path.join(set, 'output_0.pb')) : undefined;
  const outputs = fs.readdirSync(set).filter((f) => f.startsWith('output_')).length;
  if (
    left !== 1 ||
    outputs !== 1 ||
    !input ||
    !expected ||
    input.dims.length !== 4 ||
    ![2, 4].includes(expected.dims.length) ||
    input.dims[0] !== expected.dims[0]
  ) {
    return {
      outcome: 'not an image',
      detail: `inputs ${left}, input ${input?.dims.join('×') ?? 'not float'}, output ${expected?.dims.join('×') ?? 'not float'}`,
    };
  }
  const ops = (onnxType('ModelProto').decode(fs.readFileSync(file)) as unknown as ModelProto).graph.node.map((n) => n.opType);
  if (ops.some((op) => !SUPPORTED_ONNX_OPS.has(op)))
    return { outcome: 'operator not listed', detail: ops.filter((op) => !SUPPORTED_ONNX_OPS.has(op)).join(', ') };
  let loaded;
  try {
    loaded = await openModel(file, 'conformance');
  } catch (error) {
    const info = toErrorInfo(error);
    return { outcome: info.code === 'INTERNAL' ? 'crashed' : 'refused', detail: `${info.code}: ${info.message}` };
  }
  try {
    const [n, c, h, w] = input.dims;
    const x = nchwToNhwc(input.data, input.dims);
    const want = expected.dims.length === 4 ? nchwToNhwc(expected.data, expected.dims) : expected.data;
    let got: Float32Array;
    try {
      got = tf.tidy(() => (loaded.model.predict(tf.tensor4d(x, [n, h, w, c])) as tf.Tensor).dataSync() as Float32Array);
    } catch (error) {
      const info = toErrorInfo(error);
      return { outcome: info.code === 'INTERNAL' ? 'crashed' : 'refused', detail: `running: ${info.code}: ${info.message}` };
    }
    if (got.length !== want.length) return { outcome: 'wrong', detail: `${got.length} values, expected ${want.length}` };
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      const tolerance = 1e-4 + 1e-4 * Math.abs(want[i]);
      const off = Number.isNaN(want[i]) ? (Number.isNaN(got[i]) ? 0 : Infinity) : Math.abs(got[i] - want[i]) / tolerance;
      worst = Math.max(worst, off);
    }
    return worst <= 1 ? { outcome: 'passed', detail: '' } : { outcome: 'wrong', detail: `off by ${worst.toFixed(1)}× the tolerance` };
  } finally {
    loaded.dispose();
  }
}

describe.skipIf(!available)('ONNX conformance data (backend node tests and PyTorch modules)', () => {
  beforeAll(async () => {
    await initBackend({ preferred: 'wasm' });
  });

  it('every image-shaped test matches its recorded output or is refused with a coded reason', async () => {
    const rows: Array<{ suite: string; test: string; outcome: Outcome; detail: string }> = [];
    const before = tf.memory().numTensors;
    for (const suite of SUITES) {
      const root = path.join(DATA, suite);
      if (!fs.existsSync(root)) continue;
      for (const test of fs.readdirSync(root).sort()) {
        if (!fs.existsSync(path.join(root, test, 'model.onnx'))) continue;
        rows.push({ suite, test, ...(await runOne(path.join(root, test))) });
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    const count = (suite: string | undefined, outcome: Outcome) => rows.filter((r) => (!suite || r.suite === suite) && r.outcome === outcome).length;
    const table = [...SUITES, undefined].map((suite) => ({
      suite: suite ?? 'all',
      tried: rows.filter((r) => !suite || r.suite === suite).length,
      ...Object.fromEntries((['passed', 'refused', 'operator not listed', 'wrong', 'crashed', 'not an image'] as Outcome[]).map((o) => [o, count(suite, o)])),
    }));
    fs.mkdirSync(path.join(ROOT, 'test-results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'test-results', 'onnx-conformance.json'), `${JSON.stringify({ table, rows }, null, 1)}\n`);
    console.log(table.map((t) => JSON.stringify(t)).join('\n'));
    const bad = rows.filter((r) => r.outcome === 'wrong' || r.outcome === 'crashed');
    expect(bad.map((r) => `${r.suite}/${r.test}: ${r.outcome} (${r.detail})`)).toEqual([]);
    // What passes today (a floor: a change that breaks a passing test shows here even when it is refused cleanly).
    expect(count(undefined, 'passed')).toBeGreaterThanOrEqual(92);
    // Every image-shaped node test of an operator the converter lists passes (the bar).
    expect(rows.filter((r) => r.suite === 'node' && r.outcome === 'refused').map((r) => r.test)).toEqual([]);
  }, 600_000);
});
