/**
 * Where bundled resources live. Resolved from the project root (the folder holding package.json) so the same
 * code works from dist/ bundles, from TypeScript under the test runner, and inside a packaged app
 * (CNN_INSPECTOR_RESOURCES overrides).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'resources'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

export const PROJECT_ROOT = findRoot(typeof __dirname === 'string' ? __dirname : process.cwd());
export const RESOURCES_DIR = process.env.CNN_INSPECTOR_RESOURCES ?? path.join(PROJECT_ROOT, 'resources');
export const BUNDLED_MODEL_ID = 'bundled:default';
export const BUNDLED_SAMPLES_ID = 'bundled:samples';
export const BUNDLED_MODEL_PATH = path.join(RESOURCES_DIR, 'model', 'model.json');
export const BUNDLED_SAMPLES_PATH = path.join(RESOURCES_DIR, 'samples');

export function resolveModelPath(id: string | undefined): string {
  return !id || id === BUNDLED_MODEL_ID ? BUNDLED_MODEL_PATH : path.resolve(id);
}

export function resolveDatasetPath(id: string | undefined): string {
  return !id || id === BUNDLED_SAMPLES_ID ? BUNDLED_SAMPLES_PATH : path.resolve(id);
}

/** A bundled script of dist/electron (worker threads): beside this bundle, or under the project when running from source. */
export function builtScript(name: string): string | undefined {
  const here = typeof __dirname === 'string' ? [path.join(__dirname, name)] : [];
  return [...here, path.join(PROJECT_ROOT, 'dist', 'electron', name)].find((c) => fs.existsSync(c));
}

/** The app's version: set at bundle time; read from package.json when running from source (tests). */
export const ENGINE_VERSION: string =
  process.env.CNN_INSPECTOR_VERSION ?? (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
