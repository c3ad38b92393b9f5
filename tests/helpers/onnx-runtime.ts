/** ONNX Runtime for tests that compare with it: undefined where the optional onnxruntime-node is not installed. */
function loadOrt(): typeof import('onnxruntime-node') | undefined {
  try {
    return require('onnxruntime-node');
  } catch {
    return undefined;
  }
}

export const ort = loadOrt();
