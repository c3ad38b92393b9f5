/**
 * Tests never write into the person's own workspace (~/.cnn-inspector): each test file starts with a fresh one
 * of its own (worker threads and CLI child processes inherit the variable). A test may point it elsewhere.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

process.env.CNN_INSPECTOR_WORKSPACE ??= fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-inspector-test-ws-'));
