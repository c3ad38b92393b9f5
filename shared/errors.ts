/**
 * Stable error codes. The UI shows `message`; tests and scripts assert `code`.
 * Add codes here only — never invent one at a throw site.
 */
export const ERROR_CODES = [
  'BAD_ARGUMENT',
  'UNKNOWN_COMMAND',
  'FILE_NOT_FOUND',
  'IMAGE_EMPTY_FILE',
  'IMAGE_DECODE_FAILED',
  'IMAGE_TOO_LARGE',
  'IMAGE_UNSUPPORTED_TYPE',
  'INPUT_SHAPE_MISMATCH',
  'NPY_INVALID',
  'NPY_UNSUPPORTED_DTYPE',
  'MODEL_NOT_FOUND',
  'MODEL_JSON_INVALID',
  'MODEL_WEIGHTS_MISSING',
  'MODEL_WEIGHTS_INCONSISTENT',
  'MODEL_UNSUPPORTED_FORMAT',
  'MODEL_UNSUPPORTED_OP',
  'MODEL_NOT_LOADED',
  'ONNX_INVALID',
  'ONNX_UNSUPPORTED_OPSET',
  'ONNX_EXTERNAL_DATA_MISSING',
  'KERAS_INVALID',
  'LAYER_NOT_FOUND',
  'UNIT_OUT_OF_RANGE',
  'LAYER_NOT_SPATIAL',
  'DATASET_NOT_FOUND',
  'DATASET_EMPTY',
  'DATASET_EMPTY_CLASS',
  'IDX_INVALID',
  'IMAGE_NOT_FOUND',
  'JOB_NOT_FOUND',
  'JOB_CANCELLED',
  'JOB_FAILED',
  'JOB_PAUSED',
  'RUN_NOT_FOUND',
  'RUN_MODEL_CHANGED',
  'RUN_DATASET_CHANGED',
  'RUN_FINISHED',
  'UNAUTHORIZED',
  'FILE_NOT_REGULAR',
  'FILE_NOT_READABLE',
  'FILE_TOO_LARGE',
  'DECOMPRESSED_TOO_LARGE',
  'PATH_OUTSIDE_FOLDER',
  'PATH_NOT_ALLOWED',
  'OUTPUT_NOT_WRITABLE',
  'INPUT_NOT_FINITE',
  'TOO_MANY_JOBS',
  'UPLOAD_LIMIT',
  'STUDENT_NOT_ALLOWED',
  'DATASET_CLASSES_UNKNOWN',
  'ZOO_UNKNOWN_MODEL',
  'ZOO_UNREACHABLE',
  'ZOO_DOWNLOAD_INTERRUPTED',
  'ZOO_FILE_MISMATCH',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The shape an error has when it crosses a process or network boundary. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  detail?: string;
}

/** An error with a stable code. Thrown by the engine; re-created on the far side of a transport. */
export class InspectorError extends Error {
  readonly code: ErrorCode;
  readonly detail?: string;
  constructor(code: ErrorCode, message: string, detail?: string) {
    super(message);
    this.name = 'InspectorError';
    this.code = code;
    this.detail = detail;
  }
  toInfo(): ErrorInfo {
    return this.detail === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Turns anything thrown into ErrorInfo; unknown errors become INTERNAL with their message kept. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof InspectorError) return error.toInfo();
  if (error && typeof error === 'object' && 'code' in error && isErrorCode((error as { code: unknown }).code)) {
    const e = error as { code: ErrorCode; message?: unknown; detail?: unknown };
    return {
      code: e.code,
      message: String(e.message ?? e.code),
      ...(typeof e.detail === 'string' ? { detail: e.detail } : {}),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'INTERNAL', message };
}

export function fromErrorInfo(info: ErrorInfo): InspectorError {
  return new InspectorError(info.code, info.message, info.detail);
}
