/** `cnn-inspect analyze`: the Agrawal et al. analyses (sparsity, selectivity, grandmother cells, probes, …) to CSV. */
import * as path from 'node:path';
import type { ProbeAblation } from '../../../shared/contract';
import { InspectorError } from '../../../shared/errors';
import {
  comparisonTable,
  distributedCodeTable,
  grandmotherCurvesTable,
  grandmotherTable,
  imagesPerClassTable,
  probeTable,
  probeTrainingTable,
  selectivityTable,
  sparsityTable,
} from '../../../shared/result-tables';
import { PR_RECALLS } from '../../engine/analyses/selectivity';
import { ABLATIONS } from '../../engine/analyses/probe';
import { writeFileAtomic } from '../../engine/files/atomic';
import { type CommandContext, positiveInt, required } from '../args';
import { runJob, tableCsv } from '../run';

export async function runAnalyze(cx: CommandContext): Promise<void> {
  const { core, print, flags, analysisName } = cx;
  const what = analysisName;
  const analyses = ['sparsity', 'selectivity', 'gmc', 'probe', 'probe-training', 'compare', 'images-per-class', 'distributed'];
  if (!what || !analyses.includes(what))
    throw new InspectorError('UNKNOWN_COMMAND', `analyze needs one of ${analyses.join(', ')}${what ? ` (got "${what}")` : ''}`);
  await core.openDataset(required(flags, 'data'));
  const outFile = required(flags, 'out');
  if (what === 'sparsity') {
    const { rows, skipped } = await runJob(core, 'sparsity', { layers: typeof flags.layers === 'string' ? flags.layers.split(',') : undefined }, flags);
    writeFileAtomic(outFile, tableCsv(sparsityTable({ rows })));
    print({ analysis: what, rows, skipped, out: path.resolve(outFile) });
  } else if (what === 'selectivity') {
    const layer = required(flags, 'layer');
    const { aue } = (await runJob(core, 'selectivity', { layers: [layer] }, flags)).layers[0];
    writeFileAtomic(outFile, tableCsv(selectivityTable([{ layer, aue }], false)));
    const sorted = [...aue].sort((a, b) => a - b);
    print({
      analysis: what,
      layer,
      units: aue.length,
      mean_aue: aue.reduce((s, v) => s + v, 0) / aue.length,
      most_selective: sorted.slice(0, 5),
      out: path.resolve(outFile),
    });
  } else if (what === 'distributed') {
    const r = await runJob(core, 'distributedCode', { layer: required(flags, 'layer') }, flags);
    writeFileAtomic(outFile, tableCsv(distributedCodeTable(r)));
    const offDiagonal = r.overlap.flatMap((row, i) => row.filter((_, j) => j !== i));
    print({
      analysis: what,
      layer: r.layer,
      units: r.units,
      set_size: r.setSize,
      chance_overlap: r.chanceOverlap,
      mean_overlap: offDiagonal.reduce((a, b) => a + b, 0) / Math.max(1, offDiagonal.length),
      classes: r.classes.map((c) => ({ class: c.name, ap: c.ap, k50: c.k50, k90: c.k90 })),
      out: path.resolve(outFile),
    });
  } else if (what === 'images-per-class') {
    const counts = typeof flags.counts === 'string' ? flags.counts.split(',').map(Number) : undefined;
    if (counts?.some((k) => !Number.isInteger(k) || k < 1)) throw new InspectorError('BAD_ARGUMENT', '--counts are whole numbers of images per class');
    const r = await runJob(
      core,
      'imagesPerClass',
      {
        ...(counts ? { counts } : {}),
        seeds: positiveInt(flags, 'seeds', 3),
        ...(flags.scratch ? { scratch: true, scratchSeeds: positiveInt(flags, 'scratch-seeds', 1) } : {}),
      },
      flags,
    );
    writeFileAtomic(outFile, tableCsv(imagesPerClassTable(r)));
    print({
      analysis: what,
      feature_layer: r.featureLayer,
      validation: r.validationImages,
      rows: r.rows,
      ...(r.scratchRows ? { scratch_rows: r.scratchRows } : {}),
      out: path.resolve(outFile),
    });
  } else if (what === 'compare') {
    const other = required(flags, 'other');
    const r = await runJob(
      core,
      'compareModels',
      {
        other: other === 'default' ? 'bundled:default' : other,
        ...(typeof flags.layers === 'string' ? { layers: flags.layers.split(',') } : {}),
        selectivity: !flags['no-selectivity'],
        probes: !flags['no-probe'],
      },
      flags,
    );
    writeFileAtomic(outFile, tableCsv(comparisonTable(r)));
    print({
      analysis: what,
      model: r.model,
      other: r.other,
      rows: r.rows,
      only_in_model: r.onlyInModel,
      only_in_other: r.onlyInOther,
      out: path.resolve(outFile),
    });
  } else if (what === 'probe-training') {
    const r = await runJob(
      core,
      'probeTraining',
      { ...(typeof flags.layers === 'string' ? { layers: flags.layers.split(',') } : {}), seeds: positiveInt(flags, 'seeds', 1) },
      flags,
    );
    writeFileAtomic(outFile, tableCsv(probeTrainingTable(r)));
    print({ analysis: what, checkpoints: r.checkpoints, layers: r.layers, converged_at: r.convergedAt, out: path.resolve(outFile) });
  } else if (what === 'probe') {
    const ablations = typeof flags.ablations === 'string' ? (flags.ablations.split(',') as ProbeAblation[]) : undefined;
    if (ablations?.some((a) => !ABLATIONS.includes(a))) throw new InspectorError('BAD_ARGUMENT', `--ablations are ${ABLATIONS.join(', ')}`);
    const { rows } = await runJob(core, 'probe', { layers: required(flags, 'layers').split(','), ablations, seeds: positiveInt(flags, 'seeds', 3) }, flags);
    writeFileAtomic(outFile, tableCsv(probeTable(rows)));
    print({ analysis: what, rows, out: path.resolve(outFile) });
  } else {
    const layer = required(flags, 'layer');
    const { ap, classes, curves } = await runJob(core, 'gmc', { layer }, flags);
    writeFileAtomic(outFile, tableCsv(grandmotherTable({ classes, ap })));
    const curvesFile = typeof flags.curves === 'string' ? flags.curves : undefined;
    if (curvesFile) {
      // Long format, one row per recall level: the class's best units by AP, then the random-unit baseline.
      writeFileAtomic(curvesFile, tableCsv(grandmotherCurvesTable({ classes, recalls: PR_RECALLS, curves })));
    }
    const best = ap.map((perUnit, c) => {
      const u = perUnit.indexOf(Math.max(...perUnit));
      return { class: classes[c], unit: u, ap: perUnit[u] };
    });
    print({ analysis: what, layer, best_unit_per_class: best, out: path.resolve(outFile), ...(curvesFile ? { curves: path.resolve(curvesFile) } : {}) });
  }
}
