/**
 * A helper thread for data-parallel training (train/parallel-gradients.ts): it rebuilds the model being trained on
 * its own WebAssembly backend, and for each slice of a batch it is sent — with the weights of that step — returns
 * the gradient of the slice's summed loss for every trainable weight, and the summed loss.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { toErrorInfo } from '../../../shared/errors';
import { initBackend } from '../backend';
import '../model/loaded-model'; // registers the engine's own layer classes, so imported models rebuild here
import { summedLoss, type GradientRequest, type HelperStart } from './parallel-gradients';
import { logitsModel } from './loop';

const port = parentPort!;
const start = workerData as HelperStart;

void (async () => {
  try {
    await initBackend({ preferred: 'wasm', allowNative: false });
    const model = await tfl.loadLayersModel(tf.io.fromMemory(start.artifacts));
    const { model: lossModel, fromLogits } = logitsModel(model);
    const trainable = lossModel.trainableWeights.map((v) => v.read() as tf.Variable);
    port.on('message', (m: GradientRequest) => {
      try {
        tf.tidy(() => trainable.forEach((v, i) => v.assign(tf.tensor(m.weights[i], v.shape))));
        const { value, grads } = tf.variableGrads(() => summedLoss(lossModel, fromLogits, start.numClasses, m.x, m.shape, m.y), trainable);
        const out = trainable.map((v) => grads[v.name].dataSync() as Float32Array);
        const lossSum = value.dataSync()[0];
        value.dispose();
        Object.values(grads).forEach((g) => g.dispose());
        port.postMessage(
          { id: m.id, grads: out, lossSum },
          out.map((g) => g.buffer as ArrayBuffer),
        );
      } catch (error) {
        port.postMessage({ id: m.id, error: toErrorInfo(error) });
      }
    });
    port.postMessage({ ready: true });
  } catch (error) {
    port.postMessage({ ready: false, error: toErrorInfo(error) });
  }
})();
