// SVG bar charts of compare reports: round axis ticks, a value label on every bar, a legend, 95 % CI error bars.

/** One series of a bar chart; `errors` are 95 % half-widths drawn as error bars (NaN: none). */
export interface ChartSeries {
  name: string;
  values: number[];
  errors?: number[];
}

/** An axis from 0: its top, the tick step and the decimals its labels need. */
export interface NiceAxis {
  max: number;
  step: number;
  decimals: number;
}

/**
 * A 0-based axis covering `dataMax` in 3 to 6 round steps (1, 2, 2.5 or 5 × 10^k), so that the ticks
 * read 0, 0.5, 1, 1.5 … rather than 0.377, 0.754 ….
 */
export function niceAxis(dataMax: number): NiceAxis {
  const top = Number.isFinite(dataMax) && dataMax > 0 ? dataMax : 1;
  const raw = top / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => top / s <= 6) ?? 10 * magnitude);
  // A little headroom above the tallest bar so its label fits under the frame.
  const max = Math.ceil((top * 1.08) / step - 1e-9) * step;
  // The fewest decimals that write the step exactly (0.25 → 2, 0.5 → 1, 20 → 0).
  let decimals = 0;
  while (decimals < 8 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6 * 10 ** decimals * step) decimals++;
  return { max, step, decimals };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A value as a bar label: `significant` digits (3 for a mean, 2 for a half-width), no exponent for the ranges a report shows. */
function label(v: number, significant = 3): string {
  if (v === 0) return '0';
  const digits = Math.max(0, significant - 1 - Math.floor(Math.log10(Math.abs(v))));
  return v.toFixed(Math.min(digits, 4));
}

const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];

/**
 * A bar chart as SVG: one group per policy, one bar per series (stacked when `stacked`), error bars
 * where given, each bar labelled with its value (± its half-width where the bar is wide enough),
 * a legend naming the series and the error bars.
 */
export function barChartSvg(title: string, unit: string, policies: string[], series: ChartSeries[], stacked = false): string {
  const width = 640;
  const height = 340;
  const left = 64;
  const right = 20;
  const top = 58;
  const bottom = 32;
  const plotH = height - top - bottom;
  const plotW = width - left - right;
  const error = (ser: ChartSeries, i: number): number => {
    const e = ser.errors?.[i];
    return e !== undefined && Number.isFinite(e) && e > 0 ? e : 0;
  };
  const value = (ser: ChartSeries, i: number): number => {
    const v = ser.values[i] ?? NaN;
    return Number.isFinite(v) ? Math.max(0, v) : NaN;
  };
  const totals = policies.map((_, i) => {
    const ends = series.map((ser) => (Number.isFinite(value(ser, i)) ? value(ser, i) : 0));
    return stacked ? ends.reduce((s, v) => s + v, 0) + Math.max(0, ...series.map((ser) => error(ser, i))) : Math.max(0, ...series.map((ser, k) => (ends[k] ?? 0) + error(ser, i)));
  });
  const axis = niceAxis(Math.max(0, ...totals));
  const y = (v: number): number => top + plotH - (Math.min(v, axis.max) / axis.max) * plotH;
  const group = plotW / Math.max(1, policies.length);
  const barW = stacked ? group * 0.45 : (group * 0.7) / Math.max(1, series.length);
  const hasErrors = series.some((ser) => policies.some((_, i) => error(ser, i) > 0));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  // Ticks at round values, with grid lines.
  for (let t = 0; t * axis.step <= axis.max + axis.step * 1e-6; t++) {
    const v = t * axis.step;
    parts.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${width - right}" y2="${y(v).toFixed(1)}" stroke="${t === 0 ? '#333' : '#e3e3e3'}"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(axis.decimals)}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">${escapeXml(unit)}</text>`);
  policies.forEach((p, i) => {
    const gx = left + group * i;
    let base = 0;
    series.forEach((ser, k) => {
      const v = value(ser, i);
      if (!Number.isFinite(v)) return;
      const x = stacked ? gx + (group - barW) / 2 : gx + group * 0.15 + barW * k;
      const y0 = stacked ? base : 0;
      const e = error(ser, i);
      const color = colors[k % colors.length] ?? '#888';
      const text = `${p} ${ser.name}: ${label(v)}${e > 0 ? ` ± ${label(e, 2)}` : ''} ${unit}${e > 0 ? ' (95 % CI)' : ''}`;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(y0 + v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(y0) - y(y0 + v)).toFixed(1)}" fill="${color}"><title>${escapeXml(text)}</title></rect>`);
      const cx = x + barW / 2;
      if (e > 0) {
        // The 95 % interval of the mean over seeds: a whisker from mean − e to mean + e with caps.
        const hi = y(y0 + v + e).toFixed(1);
        const lo = y(Math.max(y0, y0 + v - e)).toFixed(1);
        const cap = Math.min(6, barW / 3);
        parts.push(
          `<g class="error-bar" stroke="#222"><line x1="${cx.toFixed(1)}" y1="${lo}" x2="${cx.toFixed(1)}" y2="${hi}"/><line x1="${(cx - cap).toFixed(1)}" y1="${hi}" x2="${(cx + cap).toFixed(1)}" y2="${hi}"/><line x1="${(cx - cap).toFixed(1)}" y1="${lo}" x2="${(cx + cap).toFixed(1)}" y2="${lo}"/><title>${escapeXml(text)}</title></g>`,
        );
      }
      // The value on the bar: above its whisker (grouped), or inside its segment (stacked, where it fits).
      const withError = e > 0 && barW >= 64 ? `${label(v)} ± ${label(e, 2)}` : label(v);
      if (stacked) {
        const h = y(y0) - y(y0 + v);
        if (h >= 14) parts.push(`<text class="value-label" x="${cx.toFixed(1)}" y="${(y(y0 + v / 2) + 4).toFixed(1)}" text-anchor="middle" fill="#fff" font-size="11">${escapeXml(withError)}</text>`);
      } else {
        parts.push(`<text class="value-label" x="${cx.toFixed(1)}" y="${(y(v + e) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${escapeXml(withError)}</text>`);
      }
      base += stacked ? v : 0;
    });
    if (stacked && series.length > 1) {
      const total = series.reduce((s, ser) => s + (Number.isFinite(value(ser, i)) ? value(ser, i) : 0), 0);
      // Above the top segment's whisker, which ends at total + its half-width.
      const last = series[series.length - 1];
      const above = total + (last === undefined ? 0 : error(last, i));
      parts.push(`<text class="value-label" x="${(gx + group / 2).toFixed(1)}" y="${(y(above) - 4).toFixed(1)}" text-anchor="middle" font-size="11" font-weight="bold">${escapeXml(`Σ ${label(total)}`)}</text>`);
    }
    parts.push(`<text x="${(gx + group / 2).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle">${escapeXml(p)}</text>`);
  });
  // The legend, under the title: each series' colour, then what the whiskers are.
  const legend: string[] = [];
  let lx = left;
  const ly = 36;
  series.forEach((ser, k) => {
    legend.push(`<rect x="${lx}" y="${ly}" width="12" height="12" fill="${colors[k % colors.length] ?? '#888'}"/>`);
    legend.push(`<text x="${lx + 16}" y="${ly + 10}">${escapeXml(ser.name)}</text>`);
    lx += 28 + 7 * ser.name.length;
  });
  if (hasErrors) {
    legend.push(`<g stroke="#222"><line x1="${lx + 6}" y1="${ly}" x2="${lx + 6}" y2="${ly + 12}"/><line x1="${lx + 2}" y1="${ly}" x2="${lx + 10}" y2="${ly}"/><line x1="${lx + 2}" y1="${ly + 12}" x2="${lx + 10}" y2="${ly + 12}"/></g>`);
    legend.push(`<text x="${lx + 16}" y="${ly + 10}">95 % CI of the mean over seeds</text>`);
  }
  parts.push(`<g class="legend">${legend.join('')}</g>`);
  parts.push('</svg>');
  return parts.join('\n');
}
