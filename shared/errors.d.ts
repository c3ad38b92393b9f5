/**
 * Stable error codes. The UI shows `message`; tests and scripts assert `code`.
 * Add codes here only — never invent one at a throw site.
 */
export declare const ERROR_CODES: readonly ["BAD_ARGUMENT", "UNKNOWN_COMMAND", "FILE_NOT_FOUND", "IMAGE_EMPTY_FILE", "IMAGE_DECODE_FAILED", "IMAGE_TOO_LARGE", "IMAGE_UNSUPPORTED_TYPE", "INPUT_SHAPE_MISMATCH", "NPY_INVALID", "NPY_UNSUPPORTED_DTYPE", "MODEL_NOT_FOUND", "MODEL_JSON_INVALID", "MODEL_WEIGHTS_MISSING", "MODEL_WEIGHTS_INCONSISTENT", "MODEL_UNSUPPORTED_FORMAT", "MODEL_UNSUPPORTED_OP", "MODEL_NOT_LOADED", "LAYER_NOT_FOUND", "DATASET_NOT_FOUND", "DATASET_EMPTY", "DATASET_EMPTY_CLASS", "IDX_INVALID", "IMAGE_NOT_FOUND", "JOB_NOT_FOUND", "JOB_CANCELLED", "JOB_FAILED", "UNAUTHORIZED", "INTERNAL"];
export type ErrorCode = (typeof ERROR_CODES)[number];
/** The shape an error has when it crosses a process or network boundary. */
export interface ErrorInfo {
    code: ErrorCode;
    message: string;
    detail?: string;
}
/** An error with a stable code. Thrown by the engine; re-created on the far side of a transport. */
export declare class InspectorError extends Error {
    readonly code: ErrorCode;
    readonly detail?: string;
    constructor(code: ErrorCode, message: string, detail?: string);
    toInfo(): ErrorInfo;
}
export declare function isErrorCode(value: unknown): value is ErrorCode;
/** Turns anything thrown into ErrorInfo; unknown errors become INTERNAL with their message kept. */
export declare function toErrorInfo(error: unknown): ErrorInfo;
export declare function fromErrorInfo(info: ErrorInfo): InspectorError;
