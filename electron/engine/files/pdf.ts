/**
 * HTML → PDF where a converter is at hand: a Chromium-family browser in headless mode (CHROMIUM_PATH, else the
 * usual names on PATH). Nothing is installed for it; without one the caller says so and keeps the HTML.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'microsoft-edge'];

export function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH && fs.existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of NAMES) {
      const candidate = path.join(dir, name);
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Prints `htmlFile` to `pdfFile`; returns why not, when it could not. */
export function htmlToPdf(htmlFile: string, pdfFile: string): string | undefined {
  const browser = findChromium();
  if (!browser) return 'no Chromium or Chrome found (set CHROMIUM_PATH); open the HTML page and print it to PDF';
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cnn-inspector-pdf-'));
  const tmp = `${pdfFile}.${process.pid}.tmp.pdf`;
  try {
    execFileSync(
      browser,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--no-pdf-header-footer',
        `--print-to-pdf=${tmp}`,
        `file://${path.resolve(htmlFile)}`,
      ],
      { stdio: 'ignore', timeout: 120_000 },
    );
    if (!fs.existsSync(tmp) || fs.statSync(tmp).size === 0) return `${path.basename(browser)} wrote no PDF`;
    fs.renameSync(tmp, pdfFile);
    return undefined;
  } catch (error) {
    return `${path.basename(browser)} failed: ${(error as Error).message.split('\n')[0]}`;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
    fs.rmSync(tmp, { force: true });
  }
}
