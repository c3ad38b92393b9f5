/**
 * A network small enough to serve from a loopback "zoo mirror" in tests that still names ImageNet's 1 000
 * classes: conv → global average → 1 000 scores (logits), seeded, exported to ONNX by the engine's own exporter.
 */
import { createHash } from 'node:crypto';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Preprocessing, ZooEntry } from '../../shared/contract';
import { exportOnnx } from '../../electron/engine/model/onnx/export';

export const TINY_PREPROCESSING: Preprocessing = {
  inputSize: [16, 16],
  channels: 3,
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  channelOrder: 'rgb',
  resize: 'center-crop',
};

/** Needs a TF.js backend initialised. `path` is where the mirror serves it. */
export function tinyImagenetNet(path: string): { net: tfl.Sequential; bytes: Buffer; entry: ZooEntry } {
  const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
  const net = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: seeded(1), name: 'conv1' }),
      tfl.layers.globalAveragePooling2d({ name: 'gap' }),
      tfl.layers.dense({ units: 1000, kernelInitializer: seeded(2), biasInitializer: 'zeros', name: 'scores' }),
    ],
  });
  const bytes = Buffer.from(exportOnnx(net));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return {
    net,
    bytes,
    entry: {
      name: 'tiny-net',
      title: 'Tiny net',
      path,
      sha256,
      bytes: bytes.length,
      about: 'a test network',
      preprocessing: TINY_PREPROCESSING,
      labels: 'imagenet',
    },
  };
}
