/**
 * TF's local response normalisation written out for its gradient (the training graph's and the backprop
 * projections'): y = x · scale^−β, scale = bias + α · Σ x² over the 2r + 1 nearest channels, and
 * dx = dy · scale^−β − 2αβ · x · Σ dy · y / scale over the same channels (the window is symmetric).
 */
import { ONNX_DTYPE } from './proto';
import type { GraphWriter } from './export';

export interface LrnTerms {
  /** scale^−β: the forward output is x times it. */
  factor: string;
  /** dx from dy and the forward output y. */
  inputGradient(dy: string, y: string): string;
}

/**
 * The terms for input `x` with `c` channels. `rows`: the shape that puts the channels on the rows of a product
 * ([c, −1] for channels-first maps, [0, c, −1] for NCHW); the band matrix times it sums each window.
 */
export function lrnTerms(g: GraphWriter, name: string, x: string, c: number, config: Record<string, unknown>, rows: number[]): LrnTerms {
  const r = Number(config.depthRadius);
  const [alpha, beta, bias] = [Number(config.alpha), Number(config.beta), Number(config.bias)];
  const band = new Float32Array(c * c);
  for (let i = 0; i < c; i++) for (let j = Math.max(0, i - r); j <= Math.min(c - 1, i + r); j++) band[i * c + j] = 1;
  const bandName = g.constant(`${name}.band`, [c, c], band);
  const shape = g.node('Shape', [x], `${name}.shape`);
  const rowsName = g.constant(`${name}.rows`, [rows.length], rows, ONNX_DTYPE.INT64);
  const windowSum = (t: string, what: string) =>
    g.node(
      'Reshape',
      [g.node('MatMul', [bandName, g.node('Reshape', [t, rowsName], `${name}.${what}_rows`)], `${name}.${what}_band`), shape],
      `${name}.${what}`,
    );
  const sums = windowSum(g.node('Mul', [x, x], `${name}.sq`), 'sums');
  const scale = g.node(
    'Add',
    [g.node('Mul', [sums, g.constant(`${name}.alpha`, [], [alpha])], `${name}.a_sums`), g.constant(`${name}.bias`, [], [bias])],
    `${name}.scale`,
  );
  // scale^−beta as exp(−beta · ln scale) (scale ≥ bias > 0): ONNX Runtime's Pow calls pow() cell by cell, twice as slow.
  const logScale = g.node('Log', [scale], `${name}.log_scale`);
  const factor = g.node('Exp', [g.node('Mul', [logScale, g.constant(`${name}.neg_beta`, [], [-beta])], `${name}.log_factor`)], `${name}.factor`);
  return {
    factor,
    inputGradient(dy, y) {
      const spread = windowSum(g.node('Div', [g.node('Mul', [dy, y], `${name}.dy_y`), scale], `${name}.t`), 'spread');
      const cross = g.node('Mul', [g.node('Mul', [x, spread], `${name}.x_spread`), g.constant(`${name}.two_ab`, [], [2 * alpha * beta])], `${name}.cross`);
      return g.node('Sub', [g.node('Mul', [dy, factor], `${name}.direct`), cross], `${name}.x_grad`);
    },
  };
}
