/** Fashion-MNIST class names (in label order) and the preprocessing the default model was trained with. */
import type { Preprocessing } from '../../../shared/contract';

export const FASHION_MNIST_CLASSES = ['T-shirt-top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle-boot'] as const;

/** Training-set pixel mean and std of Fashion-MNIST after scaling to [0,1]. */
export const FASHION_MNIST_PREPROCESSING: Preprocessing = {
  inputSize: [28, 28],
  channels: 1,
  scale: 1 / 255,
  mean: [0.286],
  std: [0.353],
  resize: 'stretch',
};
