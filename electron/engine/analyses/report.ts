/**
 * One self-contained HTML page gathering the Agrawal et al. analyses of a model on an image folder — sparsity,
 * class selectivity, grandmother cells, linear probes — for a paper appendix or a class handout. Each section says
 * in two sentences what it shows and how to read it. Charts are ECharts rendered to inline SVG on the engine
 * side (no script, works offline, prints). The analyses go through the engine's cached jobs, so a report after
 * the views were used is quick.
 */
import * as echarts from 'echarts';
import {
  PROBE_ABLATION_LABELS,
  PROBE_ABLATIONS,
  type GrandmotherResult,
  type ProbeAblation,
  type ProbeRow,
  type SelectivityResult,
  type SparsityResult,
} from '../../../shared/contract';
import type { JobContext } from '../base/job-context';
import type { JobDescriptor, JobHost } from '../features/job-host';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;

function svgChart(option: echarts.EChartsCoreOption, width = 720, height = 360): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  chart.setOption({ animation: false, textStyle: { fontFamily: 'Helvetica, Arial, sans-serif' }, ...option });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}

export interface ReportInputs {
  model: string;
  dataset: string;
  images: number;
  classes: string[];
  sparsity: SparsityResult;
  selectivity: SelectivityResult;
  gmc: GrandmotherResult;
  probe: ProbeRow[];
  date: Date;
}

export function reportHtml(r: ReportInputs): string {
  const sparsityTable = r.sparsity.rows
    .map((x) => `<tr><td>${esc(x.layer)}</td><td class="n">${x.mean_nonzero_pct.toFixed(1)} %</td><td class="n">± ${x.std_nonzero_pct.toFixed(1)}</td></tr>`)
    .join('');
  const selectivitySvg = svgChart({
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 50 },
    xAxis: { type: 'value', name: 'fraction of units (most selective first)', nameLocation: 'middle', nameGap: 30, min: 0, max: 1 },
    yAxis: { type: 'value', name: 'mean cumulative AuE (bits)', nameLocation: 'middle', nameGap: 40 },
    series: r.selectivity.layers.map((l) => ({
      type: 'line',
      name: l.layer,
      showSymbol: false,
      data: l.cumulative.map((v, k) => [(k + 1) / l.cumulative.length, v]),
    })),
  });
  const best = r.gmc.classes.map((c, ci) => {
    const aps = r.gmc.ap[ci];
    const order = aps.map((v, u) => ({ v, u })).sort((a, b) => b.v - a.v);
    return { c, unit: order[0].u, ap: order[0].v, second: order[1]?.v ?? 0, chance: r.gmc.prevalence[ci] };
  });
  const gmcSvg = svgChart({
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 80 },
    xAxis: { type: 'category', data: best.map((b) => b.c), axisLabel: { rotate: 30 } },
    yAxis: { type: 'value', name: 'average precision', nameLocation: 'middle', nameGap: 40, min: 0, max: 1 },
    series: [
      { type: 'bar', name: 'best single unit', data: best.map((b) => Number(b.ap.toFixed(3))) },
      { type: 'bar', name: 'second best', data: best.map((b) => Number(b.second.toFixed(3))) },
      { type: 'line', name: 'chance', data: best.map((b) => Number(b.chance.toFixed(3))), lineStyle: { type: 'dashed' }, showSymbol: false },
    ],
  });
  const ablations = (Object.keys(PROBE_ABLATION_LABELS) as ProbeAblation[]).filter((a) => r.probe.some((p) => p.ablation === a));
  const probeLayers = [...new Set(r.probe.map((p) => p.layer))];
  const probeTable = probeLayers
    .map(
      (l) =>
        `<tr><td>${esc(l)}</td>${ablations
          .map((a) => {
            const p = r.probe.find((x) => x.layer === l && x.ablation === a);
            return `<td class="n">${p ? `${pct(p.accuracy)}${p.seeds > 1 ? ` ± ${(p.std * 100).toFixed(1)}` : ''}` : '–'}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  const chance = 1 / Math.max(1, r.classes.length);
  const probeSvg = svgChart({
    legend: { top: 0 },
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    xAxis: { type: 'category', data: probeLayers },
    yAxis: { type: 'value', name: 'held-out accuracy', nameLocation: 'middle', nameGap: 40, min: 0, max: 1 },
    series: ablations.map((a, i) => ({
      type: 'bar',
      name: PROBE_ABLATION_LABELS[a],
      data: probeLayers.map((l) => Number((r.probe.find((x) => x.layer === l && x.ablation === a)?.accuracy ?? 0).toFixed(4))),
      ...(i === 0
        ? { markLine: { symbol: 'none', label: { formatter: 'chance', position: 'insideEndTop' }, lineStyle: { type: 'dashed' }, data: [{ yAxis: chance }] } }
        : {}),
    })),
  });
  // Fig. 3's curves for the class whose best single unit is weakest: there the best units and random ones differ most
  // visibly (a class with a perfect unit draws five flat lines at 1).
  const shown = best.reduce((b, x, i) => (x.ap < best[b].ap ? i : b), 0);
  const curves = r.gmc.curves?.[shown];
  const prSvg = curves
    ? svgChart({
        legend: { top: 0 },
        grid: { left: 60, right: 20, top: 70, bottom: 50 },
        xAxis: { type: 'value', name: 'recall', nameLocation: 'middle', nameGap: 30, min: 0, max: 1 },
        yAxis: { type: 'value', name: 'precision', nameLocation: 'middle', nameGap: 40, min: 0, max: 1 },
        series: [
          ...curves.top.map((t) => ({
            type: 'line',
            name: `unit ${t.unit} (AP ${t.ap.toFixed(2)})`,
            showSymbol: false,
            data: t.precision.map((p, k) => [r.gmc.recalls[k], p]),
          })),
          {
            type: 'line',
            name: `${curves.random.units.length} random units`,
            showSymbol: false,
            lineStyle: { type: 'dashed' },
            data: curves.random.precision.map((p, k) => [r.gmc.recalls[k], p]),
          },
        ],
      })
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(r.model)} on ${esc(r.dataset)} — CNN Inspector report</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; max-width: 820px; margin: 2em auto; color: #1b1f24; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccd; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { padding: 3px 10px; border-bottom: 1px solid #e3e6ea; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } .how { color: #4b5563; } svg { max-width: 100%; height: auto; }
</style></head><body>
<h1>${esc(r.model)} on ${esc(r.dataset)}</h1>
<p>${r.images} images in ${r.classes.length} classes (${r.classes.map(esc).join(', ')}). Analyses after Agrawal, Girshick &amp; Malik,
<i>Analyzing the Performance of Multilayer Neural Networks for Object Recognition</i> (ECCV 2014). Made with CNN Inspector on ${r.date.toISOString().slice(0, 10)}.</p>

<h2>How many units are active? (Table 6)</h2>
<p class="how">The share of each layer's outputs that are not zero for an image, averaged over the images (± the spread between images).
Lower numbers mean sparser codes: few units speak for any one image.</p>
<table><tr><th>layer</th><th>non-zero</th><th>spread</th></tr>${sparsityTable}</table>

<h2>How class-selective are the units? (Fig. 1)</h2>
<p class="how">For each unit, the entropy of the classes of the images that excite it as the bar is raised; the area under that curve (AuE) is low
for a unit that answers to one class. Lines lower and rising later belong to layers whose units are more selective.</p>
${selectivitySvg}

<h2>Is there a grandmother cell? (Fig. 3) — layer ${esc(r.gmc.layer)}</h2>
<p class="how">Each unit alone used as a detector of one class, scored by average precision (1 = perfect; the dashed line is chance).
A single unit far above the next best would be a "grandmother cell"; close bars mean the class is coded by many units together.</p>
${gmcSvg}
<table><tr><th>class</th><th>best unit</th><th>AP</th><th>next best</th><th>chance</th></tr>
${best.map((b) => `<tr><td>${esc(b.c)}</td><td class="n">${b.unit}</td><td class="n">${b.ap.toFixed(3)}</td><td class="n">${b.second.toFixed(3)}</td><td class="n">${b.chance.toFixed(3)}</td></tr>`).join('')}</table>
${
  curves
    ? `<p class="how">Precision–recall curves of the ${curves.top.length} best units for ${esc(r.gmc.classes[shown])} (the class whose best single unit is weakest) against random units
of the layer: how much of the class a unit finds (recall) and how often it is right when it fires (precision).</p>
${prSvg}`
    : ''
}

<h2>Where is the information? (Table 7)</h2>
<p class="how">Held-out accuracy of a linear classifier trained on each layer's outputs as they are, switched to on/off, with positions shuffled,
or keeping only each map's maximum (dashed line: chance). A small drop when binarised means the layer's information is in which units fire,
not how strongly; a big drop when shuffled means where things are in the image matters at that layer.</p>
${probeSvg}
<table><tr><th>layer</th>${ablations.map((a) => `<th>${PROBE_ABLATION_LABELS[a]}</th>`).join('')}</tr>${probeTable}</table>
</body></html>
`;
}

/** Runs (or reads from the cache) the four analyses on the engine's open model and dataset and renders the page. */
export async function buildReport(
  core: Pick<JobHost, 'requireModel' | 'requireDataset' | 'runJob'>,
  options: { layers?: string[]; gmcLayer?: string; probeLayers?: string[] },
  ctx: JobContext,
): Promise<string> {
  const model = core.requireModel();
  const dataset = core.requireDataset();
  const unitLayers = model.summary.layers.filter((l) => l.kernel || l.type === 'Dense').map((l) => l.name);
  const hidden = unitLayers.slice(0, -1);
  const layers = options.layers ?? hidden.filter((_, i) => i % 2 === 0 || i === hidden.length - 1).slice(0, 5);
  const gmcLayer = options.gmcLayer ?? hidden[hidden.length - 1] ?? unitLayers[0];
  const probeLayers =
    options.probeLayers ??
    hidden.filter((l) => (model.summary.layers.find((x) => x.name === l)?.outputShape.reduce((a, b) => a * b, 1) ?? 0) <= 8192).slice(-3);
  const steps = 4;
  const step = (i: number, what: string): JobContext => ({ ...ctx, progress: (d, t, m) => ctx.progress(i * t + d, steps * t, `${what}: ${m}`) });
  const sparsity = await core.runJob('sparsity', {}, step(0, 'Sparsity'));
  const selectivity = await core.runJob('selectivity', { layers }, step(1, 'Selectivity'));
  const gmc = await core.runJob('gmc', { layer: gmcLayer }, step(2, 'Grandmother cells'));
  const probe = await core.runJob('probe', { layers: probeLayers, ablations: [...PROBE_ABLATIONS], seeds: 1 }, step(3, 'Probes'));
  return reportHtml({
    model: model.summary.name,
    dataset: dataset.summary.name,
    images: dataset.summary.count,
    classes: dataset.summary.classes.map((c) => c.name),
    sparsity,
    selectivity,
    gmc,
    probe: probe.rows,
    date: new Date(),
  });
}

/** The report job: one HTML page made of other jobs' results (through the host's cache). */
export const reportJob: JobDescriptor<'report'> = {
  run: async (host, params, ctx) => ({ html: await buildReport(host, params, ctx) }),
};
