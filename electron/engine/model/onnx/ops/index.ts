/**
 * The ONNX operator table: every operator the converter runs, one file per family. The list of supported
 * operators (what the loader checks a graph against before converting, what the docs and the conformance suite
 * count) is this table's keys.
 */
import type { OpTable } from '../graph-context';
import { ACTIVATIONS_OPS } from './activations';
import { ARITHMETIC_OPS } from './arithmetic';
import { CONSTANT_OPS } from './constants';
import { CONVOLUTION_OPS } from './convolution';
import { DENSE_OPS } from './dense';
import { NORMALIZATION_OPS } from './normalization';
import { POOLING_OPS } from './pooling';
import { RESHAPING_OPS } from './reshaping';

export const ONNX_OPERATORS: OpTable = {
  ...CONSTANT_OPS,
  ...CONVOLUTION_OPS,
  ...ACTIVATIONS_OPS,
  ...POOLING_OPS,
  ...NORMALIZATION_OPS,
  ...DENSE_OPS,
  ...ARITHMETIC_OPS,
  ...RESHAPING_OPS,
};

export const SUPPORTED_ONNX_OPS: ReadonlySet<string> = new Set(Object.keys(ONNX_OPERATORS));
