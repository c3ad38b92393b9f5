/**
 * Datasets: a folder of class sub-folders of images (or .npy inputs), or a folder holding Fashion-MNIST / MNIST
 * IDX files. Class order = sub-folder names sorted; image order = class order, then file names sorted — the
 * dataset order everywhere. Files that cannot be used are listed in `skipped` with a reason; none are dropped
 * silently. A folder with images but no sub-folders is one class named after the folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { DatasetSummary, ImageEntry, Preprocessing, SkippedFile } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import { FASHION_MNIST_CLASSES } from './fashion-mnist';
import { readIdx, type IdxArray } from './idx';
import { displayPng, isImageOrNpyName, npyDisplayPng, preprocessPixels, readFileBytes, sniffType, toModelInput } from './image';

export interface Dataset {
  summary: DatasetSummary;
  /** The folder it was opened from. */
  root: string;
  entries: ImageEntry[];
  /** Preprocessed model input [H,W,C] float32 for entry `index`. */
  loadInput(index: number, pre: Preprocessing, inputShape: number[]): Promise<Float32Array>;
  displayPng(index: number, size?: number): Promise<Uint8Array>;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function entryAt(entries: ImageEntry[], index: number): ImageEntry {
  const entry = entries[index];
  if (!entry) throw new InspectorError('IMAGE_NOT_FOUND', `The dataset has no image number ${index} (it has ${entries.length})`);
  return entry;
}

/** What a folder entry is once symlinks are followed (a link to a class folder is a class folder). */
type EntryKind = 'file' | 'folder' | 'broken-link' | 'special';

interface Listed {
  name: string;
  kind: EntryKind;
  size: number;
  /** Why a 'special' entry is not read (a pipe, a device, a socket). */
  what?: string;
}

function listFolder(dir: string): Listed[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.'))
    .sort((a, b) => byCodePoint(a.name, b.name))
    .map((d) => {
      let stat: fs.Stats;
      try {
        stat = fs.statSync(path.join(dir, d.name));
      } catch {
        return { name: d.name, kind: 'broken-link' as const, size: 0 };
      }
      if (stat.isDirectory()) return { name: d.name, kind: 'folder' as const, size: 0 };
      if (stat.isFile()) return { name: d.name, kind: 'file' as const, size: stat.size };
      const what = stat.isFIFO() ? 'a pipe (FIFO)' : stat.isSocket() ? 'a socket' : 'a device';
      return { name: d.name, kind: 'special' as const, size: 0, what };
    });
}

/** The skipped-file row for an entry of a class folder that is not an image we read, or undefined for an image. */
function skipReason(f: Listed, rel: string): SkippedFile | undefined {
  if (f.kind === 'folder') return { file: rel, code: 'DATASET_NESTED_FOLDER', message: 'folders inside a class folder are not read' };
  if (f.kind === 'broken-link') return { file: rel, code: 'FILE_NOT_FOUND', message: 'a link whose target is missing' };
  if (f.kind === 'special') return { file: rel, code: 'FILE_NOT_REGULAR', message: `${f.what}, not an image file` };
  if (!isImageOrNpyName(f.name)) {
    return {
      file: rel,
      code: 'IMAGE_UNSUPPORTED_TYPE',
      message: /\.(bmp|svg)$/i.test(f.name)
        ? 'BMP and SVG files are not read: save it as PNG or JPEG'
        : 'not an image file (PNG, JPEG, WebP, TIFF, GIF, AVIF) or .npy',
    };
  }
  if (f.size === 0) return { file: rel, code: 'IMAGE_EMPTY_FILE', message: 'empty file (0 bytes)' };
  return undefined;
}

function openFolderDataset(root: string, id: string, name: string): Dataset {
  const skipped: SkippedFile[] = [];
  const listed = listFolder(root);
  let classDirs = listed.filter((d) => d.kind === 'folder').map((d) => d.name);
  const looseFiles = listed.filter((d) => d.kind === 'file' && isImageOrNpyName(d.name));
  let flat = false;
  if (classDirs.length === 0 && looseFiles.length > 0) flat = true;
  else {
    for (const d of listed) {
      if (d.kind === 'file') skipped.push({ file: d.name, code: 'DATASET_LOOSE_FILE', message: 'file beside the class folders (not in any class)' });
      else if (d.kind !== 'folder') skipped.push(skipReason(d, d.name)!);
    }
  }
  if (flat) classDirs = [path.basename(root)];
  const entries: ImageEntry[] = [];
  const classes: DatasetSummary['classes'] = [];
  classDirs.forEach((className, classIndex) => {
    const dir = flat ? root : path.join(root, className);
    let count = 0;
    for (const f of listFolder(dir)) {
      const rel = flat ? f.name : `${className}/${f.name}`;
      const reason = skipReason(f, rel);
      if (reason) {
        skipped.push(reason);
        continue;
      }
      entries.push({ index: entries.length, file: rel, classIndex, className });
      count++;
    }
    classes.push({ name: className, count });
  });
  if (entries.length === 0) {
    throw new InspectorError('DATASET_EMPTY', `${root} has no images (expected one sub-folder of images per class)`);
  }
  const fileOf = (index: number) => path.join(root, entryAt(entries, index).file);
  return {
    root,
    summary: { id, name, kind: 'folder', classes, count: entries.length, skipped },
    entries,
    loadInput: async (index, pre, inputShape) => {
      const file = fileOf(index);
      return toModelInput(readFileBytes(file), entryAt(entries, index).file, pre, inputShape);
    },
    displayPng: async (index, size) => {
      const file = fileOf(index);
      const bytes = readFileBytes(file);
      return sniffType(bytes) === 'npy' ? npyDisplayPng(bytes, entries[index].file, size) : displayPng(bytes, entries[index].file, size);
    },
  };
}

const IDX_PAIRS: Array<[string, string, string]> = [
  ['t10k', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
  ['train', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
];

function findIdx(root: string, base: string): string | undefined {
  for (const candidate of [base, `${base}.gz`]) if (fs.existsSync(path.join(root, candidate))) return path.join(root, candidate);
  return undefined;
}

export function isIdxFolder(root: string): boolean {
  return IDX_PAIRS.some(([, images]) => findIdx(root, images) !== undefined);
}

/** The test split (t10k) when present, else train. Class names: Fashion-MNIST's when the folder says so. */
function openIdxDataset(root: string, id: string, name: string): Dataset {
  const pair = IDX_PAIRS.find(([, images, labels]) => findIdx(root, images) && findIdx(root, labels));
  if (!pair) throw new InspectorError('IDX_INVALID', `${root} has IDX images without a matching labels file`);
  const [split, imagesBase, labelsBase] = pair;
  const images: IdxArray = readIdx(findIdx(root, imagesBase)!);
  const labels: IdxArray = readIdx(findIdx(root, labelsBase)!);
  if (images.dims.length !== 3 || labels.dims.length !== 1 || images.dims[0] !== labels.dims[0]) {
    throw new InspectorError('IDX_INVALID', `IDX images [${images.dims}] and labels [${labels.dims}] do not match`);
  }
  const [n, h, w] = images.dims;
  const maxLabel = labels.data.reduce((m, v) => Math.max(m, v), 0);
  const fashion = /fashion/i.test(root) && maxLabel < FASHION_MNIST_CLASSES.length;
  const classNames = Array.from({ length: maxLabel + 1 }, (_, i) => (fashion ? FASHION_MNIST_CLASSES[i] : String(i)));
  // Dataset order = class order, then file order (here: index in the IDX file).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => labels.data[a] - labels.data[b] || a - b);
  const entries: ImageEntry[] = order.map((src, index) => ({
    index,
    file: `${split}[${src}]`,
    classIndex: labels.data[src],
    className: classNames[labels.data[src]],
  }));
  const classes = classNames.map((className, c) => ({ name: className, count: entries.filter((e) => e.classIndex === c).length }));
  const pixelsOf = (index: number) => {
    const src = order[entryAt(entries, index).index];
    return Buffer.from(images.data.subarray(src * h * w, (src + 1) * h * w));
  };
  return {
    root,
    summary: { id, name, kind: 'idx', classes, count: n, skipped: [] },
    entries,
    loadInput: async (index, pre, inputShape) => {
      const pixels = pixelsOf(index);
      if (pre.inputSize[0] === h && pre.inputSize[1] === w && pre.channels === 1) return preprocessPixels(pixels, pre);
      const resized = await sharp(pixels, { raw: { width: w, height: h, channels: 1 } })
        .resize(pre.inputSize[1], pre.inputSize[0], { fit: 'fill' })
        .toColourspace(pre.channels === 1 ? 'b-w' : 'srgb')
        .raw()
        .toBuffer();
      void inputShape;
      return preprocessPixels(resized, pre);
    },
    displayPng: async (index, size = 256) => {
      const png = await sharp(pixelsOf(index), { raw: { width: w, height: h, channels: 1 } })
        .resize(size, size, { kernel: 'nearest' })
        .png()
        .toBuffer();
      return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
    },
  };
}

export function openDataset(root: string, id: string, name?: string): Dataset {
  if (!fs.existsSync(root)) throw new InspectorError('DATASET_NOT_FOUND', `No folder at ${root}`);
  if (!fs.statSync(root).isDirectory()) throw new InspectorError('DATASET_NOT_FOUND', `${root} is a file; a dataset is a folder of class sub-folders`);
  const displayName = name ?? path.basename(root);
  return isIdxFolder(root) ? openIdxDataset(root, id, displayName) : openFolderDataset(root, id, displayName);
}
