/**
 * Model descriptions (model.json, Keras config.json) are walked recursively by the loaders; a crafted file
 * nested thousands deep would overflow the stack and surface as INTERNAL. Real ones nest a few dozen levels.
 */
import { InspectorError, type ErrorCode } from '../../../shared/errors';

export const MAX_JSON_DEPTH = 256;

/** Throws `code` when `value` nests deeper than MAX_JSON_DEPTH (checked without recursion). */
export function checkJsonDepth(value: unknown, name: string, code: ErrorCode): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new InspectorError(code, `${name} nests deeper than ${MAX_JSON_DEPTH} levels: not a model description CNN Inspector reads`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
}
