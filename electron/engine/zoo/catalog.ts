/**
 * The model zoo: the seed networks of Zeiler & Fergus / Agrawal et al. and their successors, as the ONNX model zoo
 * publishes them. Each entry pins the file's SHA-256 and size (read from the zoo repository's Git LFS pointers at
 * commit b1eeaa1a, see ../shared/model-zoo.tsv) and the preprocessing its README states, so a downloaded model
 * opens with ImageNet's class names and the right pixels, and a file that is not the pinned one is refused.
 */
import type { Preprocessing, ZooEntry } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { readRegularFile } from '../files/safe-files';
import { isPreprocessing } from '../../../shared/param-checks';

/**
 * Where the zoo lives now: the onnx/models repository is deprecated (Git LFS downloads ended 2025-07-01) and its
 * files are mirrored on Hugging Face under the same paths. A person behind a proxy or with a local mirror names
 * another base (the CLI's --mirror, CNN_INSPECTOR_ZOO_MIRROR).
 */
export const DEFAULT_ZOO_MIRROR = 'https://huggingface.co/onnxmodelzoo/legacy_models/resolve/main/';

/** torchvision and GluonCV networks: RGB in [0, 1], ImageNet mean and std, short side resized then centre-cropped. */
const TORCHVISION: Preprocessing = {
  inputSize: [224, 224],
  channels: 3,
  scale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  channelOrder: 'rgb',
  resize: 'center-crop',
};
/** Caffe conversions (the zoo READMEs): 0–255 pixels, ImageNet's mean subtracted, channels swapped to BGR. */
const CAFFE: Preprocessing = {
  inputSize: [224, 224],
  channels: 3,
  scale: 1,
  mean: [103.939, 116.779, 123.68],
  std: [1, 1, 1],
  channelOrder: 'bgr',
  resize: 'center-crop',
};

type Row = Omit<ZooEntry, 'preprocessing' | 'labels'> & { preprocessing: Preprocessing };

const row = (name: string, title: string, file: string, sha256: string, bytes: number, preprocessing: Preprocessing, about: string): Row => ({
  name,
  title,
  path: file,
  sha256,
  bytes,
  preprocessing,
  about,
});

const ROWS: Row[] = [
  row(
    'alexnet-bvlc',
    'AlexNet (BVLC, Caffe)',
    'validated/vision/classification/alexnet/model/bvlcalexnet-12.onnx',
    '6b0da9510f27f234ee96a85dc3809dd210150fdefad87f6850f9788513216945',
    243863787,
    CAFFE,
    'Krizhevsky et al. 2012, the network Zeiler & Fergus took apart.',
  ),
  row(
    'caffenet',
    'CaffeNet (Caffe)',
    'validated/vision/classification/caffenet/model/caffenet-12.onnx',
    'ea563e5c47d1f58e1717cf1a2d8bf288b8adc07af0ad228b622096cd243aeecb',
    243863798,
    CAFFE,
    'AlexNet as Caffe trained it: the network Agrawal, Girshick & Malik analysed.',
  ),
  row(
    'zfnet-512',
    'ZFNet-512 (Caffe)',
    'validated/vision/classification/zfnet-512/model/zfnet512-12.onnx',
    'c975ca6a24c0a2e1584c6f82667e0ac9c06084fc7769d267f71b4a154d1f1c72',
    349005501,
    CAFFE,
    "Zeiler & Fergus's own architecture: 7×7 first filters, stride 2.",
  ),
  row(
    'vgg16',
    'VGG-16 (GluonCV)',
    'validated/vision/classification/vgg/model/vgg16-12.onnx',
    '722c42f53ca03a5480296bf8f9c85a151de3eed9ec982d7d2302ff6e2900c67b',
    553437752,
    TORCHVISION,
    'Simonyan & Zisserman 2014: 3×3 filters all the way down.',
  ),
  row(
    'vgg19',
    'VGG-19 (GluonCV)',
    'validated/vision/classification/vgg/model/vgg19-7.onnx',
    '692f9f927f1df1b89033787a77a73eac59fd9b3344f9ecdf0b13221e41c2046f',
    574677321,
    TORCHVISION,
    'The deeper VGG; the largest file of the zoo.',
  ),
  row(
    'googlenet',
    'GoogLeNet / Inception v1 (Caffe)',
    'validated/vision/classification/inception_and_googlenet/googlenet/model/googlenet-12.onnx',
    'c99c507058eaf41de8723408fdda7db8325cb57f0a89f2ee07a716d6e963e14e',
    28021836,
    CAFFE,
    'Szegedy et al. 2014: inception modules, 12× fewer weights than AlexNet.',
  ),
  row(
    'resnet18-v1',
    'ResNet-18 v1 (GluonCV)',
    'validated/vision/classification/resnet/model/resnet18-v1-7.onnx',
    '4e8f8653e7a2222b3904cc3fe8e304cd8b339ce1d05fd24688162f86fb6df52c',
    46820737,
    TORCHVISION,
    'He et al. 2015: residual connections; the smallest ResNet.',
  ),
  row(
    'resnet50-v1',
    'ResNet-50 v1 (GluonCV)',
    'validated/vision/classification/resnet/model/resnet50-v1-12.onnx',
    '3f03fdef724b22947eed826f1eef1dc5c34151bb4c37d634f1db89dfa2dd1526',
    102576593,
    TORCHVISION,
    'The ResNet most papers compare with.',
  ),
  row(
    'squeezenet1.1',
    'SqueezeNet 1.1',
    'validated/vision/classification/squeezenet/model/squeezenet1.1-7.onnx',
    '1eeff551a67ae8d565ca33b572fc4b66e3ef357b0eb2863bb9ff47a918cc4088',
    4956208,
    TORCHVISION,
    'AlexNet-level accuracy in 5 MB: the quickest download.',
  ),
  row(
    'mobilenetv2',
    'MobileNet v2 (GluonCV)',
    'validated/vision/classification/mobilenet/model/mobilenetv2-12.onnx',
    'c0c3f76d93fa3fd6580652a45618618a220fced18babf65774ed169de0432ad5',
    13964571,
    TORCHVISION,
    'Depthwise-separable convolutions for phones (what Teachable Machine builds on).',
  ),
  row(
    'alexnet-torchvision-opset17',
    'AlexNet (torchvision, opset 17)',
    'Computer_Vision/alexnet_Opset17_torch_hub/alexnet_Opset17.onnx',
    'd1fef6de9abfd04669ff0c450eaf02609f544c47623e6b80346180737863f5ee',
    244407335,
    TORCHVISION,
    "torchvision's pretrained AlexNet as a recent PyTorch exporter writes it.",
  ),
  row(
    'googlenet-torchvision-opset18',
    'GoogLeNet (torchvision, opset 18)',
    'Computer_Vision/googlenet_Opset18_torch_hub/googlenet_Opset18.onnx',
    'd4c7e6715f7160ba18e2cecb7580fdcd821da27ec5791bd5d48ae66584754afb',
    26503581,
    TORCHVISION,
    "torchvision's pretrained GoogLeNet (batch-normalised).",
  ),
  row(
    'resnet18-torchvision-opset18',
    'ResNet-18 (torchvision, opset 18)',
    'Computer_Vision/resnet18_Opset18_torch_hub/resnet18_Opset18.onnx',
    'd9569854dc9a225248845b0853486a98ab1c0cdcd48dad19fb245430879a038e',
    46748516,
    TORCHVISION,
    "torchvision's pretrained ResNet-18: the network of most transfer-learning tutorials.",
  ),
  row(
    'vgg16-torchvision-opset18',
    'VGG-16 (torchvision, opset 18)',
    'Computer_Vision/vgg16_Opset18_torch_hub/vgg16_Opset18.onnx',
    '0f1649d8fe4faea52bd186c26400d2e1cdb516fd66c1ea96a7c9612b53a0b447',
    553437938,
    TORCHVISION,
    "torchvision's pretrained VGG-16.",
  ),
  row(
    'squeezenet1_1-torchvision-opset18',
    'SqueezeNet 1.1 (torchvision, opset 18)',
    'Computer_Vision/squeezenet1_1_Opset18_torch_hub/squeezenet1_1_Opset18.onnx',
    '8158833af025e7802fdf17b1f1d09a72a02bb3fee05615340739e013330eb98a',
    4958202,
    TORCHVISION,
    "torchvision's pretrained SqueezeNet 1.1.",
  ),
];

/** Every zoo entry names ImageNet's 1 000 classes (the labels themselves are in shared/imagenet-classes). */
export const ZOO_CATALOG: ZooEntry[] = ROWS.map((r) => ({ ...r, labels: 'imagenet' }));

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SHA256 = /^[0-9a-f]{64}$/;
/** Zoo files are at most a few GB: a larger declared size is a mistake or an attack on the disk. */
export const MAX_ZOO_BYTES = 4 * 2 ** 30;

/** Refused in a catalog's paths (one goes into a URL and a file name): query and fragment marks, backslashes, control characters. */
// eslint-disable-next-line no-control-regex
const UNSAFE_PATH_CHARACTERS = /[\\?#\u0000-\u001f]/;

/**
 * A catalog a person brings (an organisation's own mirror of its own models): a JSON list of entries with the same
 * fields. Checked field by field, since a name becomes a file name and a path becomes part of a URL.
 */
export function parseZooCatalog(text: string): ZooEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InspectorError('BAD_ARGUMENT', `The zoo catalog is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new InspectorError('BAD_ARGUMENT', 'The zoo catalog must be a JSON list of models');
  return parsed.map((item, i) => {
    const e = item as Partial<ZooEntry> | null;
    const where = `zoo catalog entry ${i + 1}`;
    if (!e || typeof e !== 'object') throw new InspectorError('BAD_ARGUMENT', `${where} is not an object`);
    if (typeof e.name !== 'string' || !NAME.test(e.name))
      throw new InspectorError('BAD_ARGUMENT', `${where}: name must be lower-case letters, digits, ".", "_" or "-"`);
    if (
      typeof e.path !== 'string' ||
      e.path.length === 0 ||
      e.path.length > 1000 ||
      e.path.split('/').some((p) => p === '..' || p === '') ||
      UNSAFE_PATH_CHARACTERS.test(e.path) ||
      !e.path.endsWith('.onnx')
    ) {
      throw new InspectorError('BAD_ARGUMENT', `${where}: path must be a relative path to an .onnx file without "..", "?", "#" or control characters`);
    }
    if (typeof e.sha256 !== 'string' || !SHA256.test(e.sha256)) throw new InspectorError('BAD_ARGUMENT', `${where}: sha256 must be 64 hexadecimal digits`);
    if (e.preprocessing !== undefined && !isPreprocessing(e.preprocessing))
      throw new InspectorError('BAD_ARGUMENT', `${where}: preprocessing needs inputSize [h, w], channels 1 or 3, scale, mean and std (std never 0)`);
    if (!Number.isInteger(e.bytes) || (e.bytes as number) < 1 || (e.bytes as number) > MAX_ZOO_BYTES)
      throw new InspectorError('BAD_ARGUMENT', `${where}: bytes must be a whole number up to ${MAX_ZOO_BYTES}`);
    return {
      name: e.name,
      title: typeof e.title === 'string' ? e.title.slice(0, 200) : e.name,
      path: e.path,
      sha256: e.sha256,
      bytes: e.bytes as number,
      about: typeof e.about === 'string' ? e.about.slice(0, 500) : '',
      ...(e.preprocessing ? { preprocessing: e.preprocessing } : {}),
      ...(e.labels === 'imagenet' ? { labels: 'imagenet' as const } : {}),
    };
  });
}

/**
 * The catalog in use: the built-in one, or the JSON list named by CNN_INSPECTOR_ZOO_CATALOG (a school's or a
 * company's own mirror of its own networks — set by whoever runs the app, never by a browser client).
 */
export function activeZooCatalog(): ZooEntry[] {
  const file = process.env.CNN_INSPECTOR_ZOO_CATALOG;
  return file ? parseZooCatalog(readRegularFile(file, { maxBytes: 4 * 2 ** 20 }).toString('utf8')) : ZOO_CATALOG;
}

export function findZooEntry(name: string, catalog: ZooEntry[] = activeZooCatalog()): ZooEntry {
  const entry = catalog.find((e) => e.name === name);
  if (!entry) throw new InspectorError('ZOO_UNKNOWN_MODEL', `The model zoo has no "${name}" (it has: ${catalog.map((e) => e.name).join(', ')})`);
  return entry;
}
