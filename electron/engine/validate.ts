/**
 * Payload validation for everything that arrives over a transport (IPC, WebSocket): a malformed request is a
 * BAD_ARGUMENT with a message, never an exception deep in the engine. Job parameters: shared/param-checks.ts.
 */
import { COMMANDS, JOB_KINDS, MAX_IMAGE_UPLOAD_BYTES, PROJECTION_METHODS, type CommandName } from '../../shared/contract';
import { InspectorError } from '../../shared/errors';
import { MAX_LAYER_WIDTH, checkImageRef, fail, isObject, isPreprocessing, validateJobParams } from '../../shared/param-checks';

export { MAX_LAYER_WIDTH, isPreprocessing, validateJobParams };

export function isCommand(name: unknown): name is CommandName {
  return typeof name === 'string' && (COMMANDS as readonly string[]).includes(name);
}

/** Validates the single parameter object of a command. */
export function validateCommand(name: unknown, params: unknown): asserts name is CommandName {
  if (!isCommand(name)) throw new InspectorError('UNKNOWN_COMMAND', `Unknown command ${String(name)}`);
  const p = (params ?? {}) as Record<string, unknown>;
  if (params !== undefined && !isObject(params)) fail(`${name}: parameters must be an object`);
  switch (name) {
    case 'getState':
      return;
    case 'openModel':
    case 'openDataset':
      if (p.path !== undefined && typeof p.path !== 'string') fail(`${name}: path must be a string`);
      return;
    case 'listImages':
      if (!Number.isInteger(p.offset) || !Number.isInteger(p.limit)) fail('listImages: offset and limit must be integers');
      if (p.classIndex !== undefined && !Number.isInteger(p.classIndex)) fail('listImages: classIndex must be an integer');
      return;
    case 'getImage':
      checkImageRef(p.image);
      if (p.size !== undefined && typeof p.size !== 'number') fail('getImage: size must be a number');
      return;
    case 'addDatasetFiles':
      if (
        typeof p.folder !== 'string' ||
        !Array.isArray(p.files) ||
        !p.files.every((f) => isObject(f) && typeof f.path === 'string' && f.bytes instanceof Uint8Array)
      ) {
        fail('addDatasetFiles: needs folder (string) and files ([{path, bytes}])');
      }
      if (p.start !== undefined && typeof p.start !== 'boolean') fail('addDatasetFiles: start must be true or false');
      return;
    case 'uploadModel':
      if (typeof p.name !== 'string' || !(p.bytes instanceof Uint8Array)) fail('uploadModel: needs name (string) and bytes (Uint8Array)');
      if (p.offset !== undefined || p.total !== undefined) {
        if (!Number.isSafeInteger(p.offset) || !Number.isSafeInteger(p.total) || (p.offset as number) < 0 || (p.total as number) < 0)
          fail('uploadModel: offset and total must be whole numbers of bytes');
      }
      break;
    case 'exportModel':
      if (p.format !== 'onnx' && p.format !== 'tfjs') fail('exportModel: format must be "onnx" or "tfjs"');
      if (p.path !== undefined && typeof p.path !== 'string') fail('exportModel: path must be a string');
      break;
    case 'saveModelSettings': {
      if (
        p.labels !== undefined &&
        (!Array.isArray(p.labels) || !p.labels.every((l) => typeof l === 'string' && l.length <= 200) || p.labels.length > 100_000)
      ) {
        fail('saveModelSettings: labels must be a list of names');
      }
      if (p.preprocessing !== undefined && !isPreprocessing(p.preprocessing)) {
        fail('saveModelSettings: preprocessing needs inputSize [h, w], channels 1 or 3, scale, mean and std (std never 0)');
      }
      break;
    }
    case 'uploadImage':
      if (typeof p.name !== 'string' || !(p.bytes instanceof Uint8Array)) fail('uploadImage: needs name (string) and bytes (Uint8Array)');
      if (p.bytes.length > MAX_IMAGE_UPLOAD_BYTES)
        throw new InspectorError('IMAGE_TOO_LARGE', `Image files over ${MAX_IMAGE_UPLOAD_BYTES / 2 ** 20} MB are refused`);
      return;
    case 'predict':
      checkImageRef(p.image);
      if (p.top !== undefined && (!Number.isInteger(p.top) || (p.top as number) < 1)) fail('predict: top must be a positive integer');
      if (p.occlude !== undefined) {
        const o = p.occlude as Record<string, unknown>;
        if (!isObject(o) || ![o.y, o.x, o.patch].every((v) => Number.isInteger(v))) fail('predict: occlude needs whole-number y, x and patch');
        if (o.fill !== undefined && typeof o.fill !== 'number') fail('predict: occlude.fill must be a number');
      }
      return;
    case 'activations':
      checkImageRef(p.image);
      if (typeof p.layer !== 'string') fail('activations: layer must be a string');
      return;
    case 'project':
      checkImageRef(p.image);
      if (typeof p.layer !== 'string') fail('project: layer must be a string');
      if (!Number.isInteger(p.unit)) fail('project: unit must be an integer');
      if (!(PROJECTION_METHODS as readonly unknown[]).includes(p.method)) fail('project: method must be deconv, gradient or guided');
      if (p.position !== undefined && (!Array.isArray(p.position) || !p.position.every((v) => Number.isInteger(v)))) fail('project: position must be [y, x]');
      return;
    case 'getAtlas':
      return;
    case 'getFilters':
      if (p.layer !== undefined && typeof p.layer !== 'string') fail('getFilters: layer must be a string');
      return;
    case 'getAtlasLayer':
      if (typeof p.layer !== 'string') fail('getAtlasLayer: layer must be a string');
      return;
    case 'getAtlasSheet':
      if (typeof p.layer !== 'string' || !Number.isInteger(p.unit)) fail('getAtlasSheet: needs layer (string) and unit (integer)');
      return;
    case 'startJob':
      validateJobParams(p.kind, p.params);
      return;
    case 'cancelJob':
    case 'getJobResult':
      if (typeof p.jobId !== 'string') fail(`${name}: jobId must be a string`);
      if (name === 'cancelJob' && p.keep !== undefined && typeof p.keep !== 'boolean') fail('cancelJob: keep must be true or false');
      if (name === 'cancelJob' && p.pause !== undefined && typeof p.pause !== 'boolean') fail('cancelJob: pause must be true or false');
      return;
    case 'listRuns':
    case 'listZoo':
      return;
    case 'discardRun':
      if (typeof p.run !== 'string') fail('discardRun: run must be a run name');
      return;
    case 'lead':
      if (p.view !== undefined) checkLeadView(p.view);
      return;
    case 'follow':
      if (typeof p.following !== 'boolean') fail('follow: following must be true or false');
      return;
    case 'setStudentJobs':
      if (!Array.isArray(p.kinds) || p.kinds.length > JOB_KINDS.length || !p.kinds.every((k) => (JOB_KINDS as readonly unknown[]).includes(k))) {
        fail(`setStudentJobs: kinds must be a list of job kinds (${JOB_KINDS.join(', ')})`);
      }
      return;
  }
}

/** A view an instructor leads with: short names, a dataset image, nothing else (it is sent to every student). */
function checkLeadView(view: unknown): void {
  if (!isObject(view)) fail('lead: view must be an object');
  const v = view as Record<string, unknown>;
  const allowed = ['tab', 'layer', 'unit', 'image', 'model', 'dataset'];
  const extra = Object.keys(v).find((k) => !allowed.includes(k));
  if (extra) fail(`lead: view has an unknown field ${extra}`);
  if (typeof v.tab !== 'string' || v.tab.length > 40) fail('lead: view.tab must be a tab name');
  for (const key of ['layer', 'model', 'dataset'] as const) {
    if (v[key] !== undefined && (typeof v[key] !== 'string' || (v[key] as string).length > 4096)) fail(`lead: view.${key} must be a name`);
  }
  if (v.unit !== undefined && !(Number.isSafeInteger(v.unit) && (v.unit as number) >= 0)) fail('lead: view.unit must be a unit number');
  if (v.image !== undefined) {
    const image = v.image as Record<string, unknown>;
    if (!isObject(image) || image.source !== 'dataset' || !Number.isSafeInteger(image.index) || (image.index as number) < 0) {
      fail('lead: view.image must be an image of the open folder');
    }
  }
}
