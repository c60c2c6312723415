// Compare reports: per-policy averages over runs, a markdown file and hand-written SVG bar charts.
import type { SimResult } from './engine.ts';

/** One policy's averages over runs, seconds (the `compare --json` shape). */
export interface PolicySummary {
  perTokenMean: number;
  ttftMean: number;
  responseMean: number;
  responseP95: number;
  waitingMean: number;
  serviceMean: number;
}

/** Extra per-policy figures kept beside the summary. */
export interface PolicyDetails {
  placement: string;
  routing: string;
  finished: number;
  requests: number;
  tpotMean: number;
  retriesMean: number;
  failovers: number;
  routingMsMean: number;
  placementMs: number;
  predictedPerToken: number;
}

/** Averages the runs of one policy, in seconds. */
export function summarizeRuns(runs: readonly SimResult[]): PolicySummary {
  const avg = (f: (r: SimResult) => number): number => runs.reduce((s, r) => s + f(r), 0) / Math.max(1, runs.length) / 1000;
  return {
    perTokenMean: avg((r) => r.metrics.perTokenMs.mean),
    ttftMean: avg((r) => r.metrics.ttftMs.mean),
    responseMean: avg((r) => r.metrics.responseMs.mean),
    responseP95: avg((r) => r.metrics.responseMs.p95),
    waitingMean: avg((r) => r.metrics.waitingMs.mean),
    serviceMean: avg((r) => r.metrics.serviceMs.mean),
  };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A bar chart as SVG: one group per policy, one bar per series (stacked when `stacked`). */
export function barChartSvg(title: string, unit: string, policies: string[], series: { name: string; values: number[] }[], stacked = false): string {
  const width = 640;
  const height = 320;
  const left = 60;
  const bottom = 40;
  const top = 36;
  const plotH = height - top - bottom;
  const plotW = width - left - 20;
  const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];
  const totals = policies.map((_, i) => (stacked ? series.reduce((s, ser) => s + (ser.values[i] ?? 0), 0) : Math.max(...series.map((ser) => ser.values[i] ?? 0))));
  const max = Math.max(1e-9, ...totals.filter(Number.isFinite)) * 1.1;
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const group = plotW / Math.max(1, policies.length);
  const barW = stacked ? group * 0.5 : (group * 0.7) / Math.max(1, series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${width - 20}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max / 4) * t;
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toPrecision(3)}</text>`);
    parts.push(`<line x1="${left}" y1="${y(v)}" x2="${width - 20}" y2="${y(v)}" stroke="#ddd"/>`);
  }
  parts.push(`<text x="14" y="${top + plotH / 2}" transform="rotate(-90 14 ${top + plotH / 2})" text-anchor="middle">${escapeXml(unit)}</text>`);
  policies.forEach((p, i) => {
    const gx = left + group * i;
    let base = 0;
    series.forEach((ser, k) => {
      const v = Math.max(0, ser.values[i] ?? 0);
      if (!Number.isFinite(v)) return;
      const x = stacked ? gx + (group - barW) / 2 : gx + group * 0.15 + barW * k;
      const y0 = stacked ? base : 0;
      const h = (v / max) * plotH;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${(y(y0 + v)).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${colors[k % colors.length] ?? '#888'}"><title>${escapeXml(`${p} ${ser.name}: ${v.toPrecision(4)} ${unit}`)}</title></rect>`,
      );
      if (stacked) base += v;
    });
    parts.push(`<text x="${gx + group / 2}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(p)}</text>`);
  });
  if (series.length > 1) {
    series.forEach((ser, k) => {
      const lx = left + 10 + k * 130;
      parts.push(`<rect x="${lx}" y="${height - 14}" width="10" height="10" fill="${colors[k % colors.length] ?? '#888'}"/>`);
      parts.push(`<text x="${lx + 14}" y="${height - 5}">${escapeXml(ser.name)}</text>`);
    });
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** The charts of a compare report: file name → SVG. */
export function compareCharts(summaries: Record<string, PolicySummary>): Record<string, string> {
  const names = Object.keys(summaries);
  const pick = (f: (s: PolicySummary) => number): number[] => names.map((n) => {
    const s = summaries[n];
    return s === undefined ? NaN : f(s);
  });
  return {
    'per-token.svg': barChartSvg('Average time per output token (T / l_out)', 's', names, [{ name: 'per-token', values: pick((s) => s.perTokenMean) }]),
    'response.svg': barChartSvg('Response time', 's', names, [
      { name: 'mean', values: pick((s) => s.responseMean) },
      { name: 'p95', values: pick((s) => s.responseP95) },
    ]),
    'waiting-service.svg': barChartSvg('Mean response = waiting + service', 's', names, [
      { name: 'service', values: pick((s) => s.serviceMean) },
      { name: 'waiting', values: pick((s) => s.waitingMean) },
    ], true),
    'ttft.svg': barChartSvg('Time to first token', 's', names, [{ name: 'TTFT', values: pick((s) => s.ttftMean) }]),
  };
}

/** The markdown report of a compare run. */
export function compareMarkdown(opts: {
  scenario: string;
  description: string;
  command: string;
  runs: number;
  seed: number;
  summaries: Record<string, PolicySummary>;
  details: Record<string, PolicyDetails>;
  charts: string[];
}): string {
  const rows = Object.entries(opts.summaries).map(([name, s]) => {
    const d = opts.details[name];
    return `| ${name} | ${d?.placement ?? ''} + ${d?.routing ?? ''} | ${s.perTokenMean.toFixed(3)} | ${s.ttftMean.toFixed(3)} | ${s.responseMean.toFixed(2)} | ${s.responseP95.toFixed(2)} | ${s.waitingMean.toFixed(2)} | ${s.serviceMean.toFixed(2)} | ${d === undefined ? '' : `${d.finished}/${d.requests}`} |`;
  });
  return [
    `# Compare: ${opts.scenario}`,
    '',
    opts.description,
    '',
    `Command: \`${opts.command}\` — ${opts.runs} run(s) from seed ${opts.seed}, averaged. Times in seconds.`,
    '',
    '| policy | placement + routing | per-token | TTFT | response mean | response p95 | waiting | service | finished |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    ...opts.charts.map((c) => `![${c}](${c})`),
    '',
  ].join('\n');
}
