/**
 * The Parts result in words (Zeiler & Fergus, Table 1): in which layers a marked part changes the features more
 * alike across the images than boxes of the same size at random places do. "Clearly" when the part's mean plus its
 * spread is still below the random boxes' mean; "a little" when only the mean is lower.
 */
import { randomControlName, type CorrespondenceResult } from '../../../shared/contract';

export interface PartVerdict {
  part: string;
  clearly: string[];
  aLittle: string[];
  not: string[];
  sentence: string;
}

const list = (xs: string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);

export function partVerdicts(r: CorrespondenceResult): PartVerdict[] {
  const names = [...new Set(r.rows.map((row) => row.part))];
  const controls = new Set(names.map(randomControlName));
  const parts = names.filter((p) => !controls.has(p));
  return parts.map((part) => {
    const verdict: PartVerdict = { part, clearly: [], aLittle: [], not: [], sentence: '' };
    for (const layer of r.layers) {
      const mine = r.rows.find((row) => row.part === part && row.layer === layer);
      const control = r.rows.find((row) => row.part === randomControlName(part) && row.layer === layer);
      if (!mine || !control) continue;
      if (mine.meanSignChange + mine.std < control.meanSignChange) verdict.clearly.push(layer);
      else if (mine.meanSignChange < control.meanSignChange) verdict.aLittle.push(layer);
      else verdict.not.push(layer);
    }
    const said: string[] = [];
    if (verdict.clearly.length) said.push(`clearly coded the same way across the images in ${list(verdict.clearly)}`);
    if (verdict.aLittle.length) said.push(`a little more alike than random boxes in ${list(verdict.aLittle)}`);
    if (verdict.not.length) said.push(`no more alike than random boxes in ${list(verdict.not)}`);
    verdict.sentence = `“${part}”: ${said.join('; ')}.`;
    return verdict;
  });
}
