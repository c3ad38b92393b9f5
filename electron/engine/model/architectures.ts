/**
 * Architectures the project builds itself: the bundled default model (Zeiler–Fergus layout scaled to
 * Fashion-MNIST's 28×28 grey images) and ZFNet-224 (ZF Fig. 3 sizes) for benchmarks. Layer names follow the
 * papers: conv1…conv5, pool1/2/5, norm1/2, fc6, fc7, fc8, prob.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import { LocalResponseNormalization } from './layers/lrn';

/** LRN as in ZF/AlexNet (size 5, alpha 1e-4 over the window, beta 0.75, k 2) in TF's convention. */
const zfLrn = (name: string) => new LocalResponseNormalization({ name, depthRadius: 2, bias: 2, alpha: 1e-4 / 5, beta: 0.75 });

export function buildZfFashion(seed = 1): tfl.LayersModel {
  const init = (i: number) => tfl.initializers.heNormal({ seed: seed * 100 + i });
  const model = tfl.sequential({ name: 'zf-fashion' });
  model.add(
    tfl.layers.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
  );
  model.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 3, strides: 2, padding: 'same' }));
  model.add(zfLrn('norm1'));
  model.add(tfl.layers.conv2d({ name: 'conv2', filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }));
  model.add(tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 3, strides: 2, padding: 'same' }));
  model.add(zfLrn('norm2'));
  model.add(tfl.layers.conv2d({ name: 'conv3', filters: 96, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(3) }));
  model.add(tfl.layers.conv2d({ name: 'conv4', filters: 96, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(4) }));
  model.add(tfl.layers.conv2d({ name: 'conv5', filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(5) }));
  model.add(tfl.layers.maxPooling2d({ name: 'pool5', poolSize: 3, strides: 2, padding: 'valid' }));
  model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(tfl.layers.dense({ name: 'fc6', units: 256, activation: 'relu', kernelInitializer: init(6) }));
  model.add(tfl.layers.dropout({ name: 'drop6', rate: 0.5, seed: seed + 6 }));
  model.add(tfl.layers.dense({ name: 'fc7', units: 256, activation: 'relu', kernelInitializer: init(7) }));
  model.add(tfl.layers.dropout({ name: 'drop7', rate: 0.5, seed: seed + 7 }));
  model.add(tfl.layers.dense({ name: 'fc8', units: 10, kernelInitializer: tfl.initializers.glorotNormal({ seed: seed * 100 + 8 }) }));
  model.add(tfl.layers.activation({ name: 'prob', activation: 'softmax' }));
  return model;
}

/** ZFNet at 224×224×3 with ZF Fig. 3 sizes (110→55→26→13→13→13→6), random weights, 1000 classes. */
export function buildZfNet224(seed = 1): tfl.LayersModel {
  const init = (i: number) => tfl.initializers.heNormal({ seed: seed * 100 + i });
  const model = tfl.sequential({ name: 'zfnet-224' });
  model.add(
    tfl.layers.zeroPadding2d({
      name: 'pad1',
      inputShape: [224, 224, 3],
      padding: [
        [1, 1],
        [1, 1],
      ],
    }),
  );
  model.add(tfl.layers.conv2d({ name: 'conv1', filters: 96, kernelSize: 7, strides: 2, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 3, strides: 2, padding: 'same' }));
  model.add(zfLrn('norm1'));
  model.add(tfl.layers.conv2d({ name: 'conv2', filters: 256, kernelSize: 5, strides: 2, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 3, strides: 2, padding: 'same' }));
  model.add(zfLrn('norm2'));
  model.add(tfl.layers.conv2d({ name: 'conv3', filters: 384, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(3) }));
  model.add(tfl.layers.conv2d({ name: 'conv4', filters: 384, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(4) }));
  model.add(tfl.layers.conv2d({ name: 'conv5', filters: 256, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(5) }));
  model.add(tfl.layers.maxPooling2d({ name: 'pool5', poolSize: 3, strides: 2 }));
  model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(tfl.layers.dense({ name: 'fc6', units: 4096, activation: 'relu', kernelInitializer: init(6) }));
  model.add(tfl.layers.dropout({ name: 'drop6', rate: 0.5 }));
  model.add(tfl.layers.dense({ name: 'fc7', units: 4096, activation: 'relu', kernelInitializer: init(7) }));
  model.add(tfl.layers.dropout({ name: 'drop7', rate: 0.5 }));
  model.add(tfl.layers.dense({ name: 'fc8', units: 1000, kernelInitializer: init(8) }));
  model.add(tfl.layers.activation({ name: 'prob', activation: 'softmax' }));
  return model;
}
