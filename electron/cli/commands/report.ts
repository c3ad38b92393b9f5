/** `cnn-inspect report`: the printable HTML report of the Agrawal analyses (and a PDF where a Chromium-family browser is installed). */
import * as path from 'node:path';
import { writeFileAtomic } from '../../engine/files/atomic';
import { htmlToPdf } from '../../engine/files/pdf';
import { type CommandContext, required } from '../args';
import { runJob } from '../run';

export async function runReport(cx: CommandContext): Promise<void> {
  const { core, print, flags } = cx;
  await core.openDataset(required(flags, 'data'));
  const list = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string).split(',') : undefined);
  const { html } = await runJob(
    core,
    'report',
    { layers: list('layers'), gmcLayer: typeof flags['gmc-layer'] === 'string' ? flags['gmc-layer'] : undefined, probeLayers: list('probe-layers') },
    flags,
  );
  const outFile = required(flags, 'out');
  writeFileAtomic(outFile, html);
  const pdf = typeof flags.pdf === 'string' ? path.resolve(flags.pdf) : undefined;
  const pdfProblem = pdf ? htmlToPdf(outFile, pdf) : undefined;
  print({ out: path.resolve(outFile), bytes: Buffer.byteLength(html), ...(pdf ? (pdfProblem ? { pdf: null, pdf_not_made: pdfProblem } : { pdf }) : {}) });
}
