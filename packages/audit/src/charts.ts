/**
 * Charts as inline SVG, drawn here (no library, no network): horizontal bars and stacked
 * columns. Every mark carries its label and value (`data-label`, `data-value`), every chart a
 * title and a description for screen readers; the numbers are also in a table beside it.
 *
 * @since 0.1.0
 */

/** Escapes text for HTML content and attribute values. */
export const escapeHtml = (value: unknown): string =>
  String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;")

/** One bar: what it counts and how many. */
export interface Bar {
  readonly label: string
  readonly value: number
}

/** Colours distinguishable with any colour vision (Okabe–Ito), dark enough on white. */
export const palette = [
  "#0072b2",
  "#d55e00",
  "#009e73",
  "#cc79a7",
  "#8a6d00",
  "#56689e",
  "#6b6b6b",
  "#000000",
]

const fmt = (n: number) => n.toLocaleString("en")

/** Horizontal bars, one row per bar, longest = the largest value. */
export const barChart = (
  id: string,
  title: string,
  bars: ReadonlyArray<Bar>,
  color = palette[0]!,
): string => {
  const rowHeight = 26
  const labelWidth = 190
  const barWidth = 360
  const height = Math.max(1, bars.length) * rowHeight + 8
  const max = Math.max(1, ...bars.map((b) => b.value))
  const rows = bars.map((b, i) => {
    const y = 4 + i * rowHeight
    const w = b.value === 0 ? 0 : Math.max(2, (b.value / max) * barWidth)
    return (
      `<g class="bar" data-label="${escapeHtml(b.label)}" data-value="${b.value}">` +
      `<text x="${labelWidth - 8}" y="${y + 17}" text-anchor="end">${escapeHtml(b.label)}</text>` +
      `<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${color}"/>` +
      `<text x="${labelWidth + w + 6}" y="${y + 17}">${fmt(b.value)}</text></g>`
    )
  })
  const empty = bars.length === 0 ? `<text x="8" y="20">nothing in this window</text>` : ""
  return svg(
    id,
    title,
    `${bars.map((b) => `${b.label}: ${fmt(b.value)}`).join("; ") || "none"}`,
    labelWidth + barWidth + 70,
    height,
    rows.join("") + empty,
  )
}

/** One column of a stacked chart: a label (a day) and a value per series. */
export interface StackedColumn {
  readonly label: string
  readonly values: ReadonlyMap<string, number>
}

/** Stacked columns over time (e.g. failures per day, stacked by code), with a legend. */
export const stackedColumns = (
  id: string,
  title: string,
  series: ReadonlyArray<string>,
  columns: ReadonlyArray<StackedColumn>,
): string => {
  const chartHeight = 160
  const legendHeight = 22 * Math.ceil(series.length / 3)
  const step = Math.max(8, Math.min(36, Math.floor(620 / Math.max(1, columns.length))))
  const width = Math.max(320, 40 + columns.length * step)
  const total = (c: StackedColumn) => [...c.values.values()].reduce((a, b) => a + b, 0)
  const max = Math.max(1, ...columns.map(total))
  const marks = columns.map((c, i) => {
    let y = chartHeight
    const x = 30 + i * step
    const parts = series.map((s, k) => {
      const v = c.values.get(s) ?? 0
      if (v === 0) return ""
      const h = (v / max) * (chartHeight - 10)
      y -= h
      return `<rect class="segment" data-series="${escapeHtml(s)}" data-value="${v}" x="${x}" y="${y.toFixed(1)}" width="${step - 2}" height="${h.toFixed(1)}" fill="${palette[k % palette.length]}"><title>${escapeHtml(`${c.label} ${s}: ${v}`)}</title></rect>`
    })
    return `<g class="column" data-label="${escapeHtml(c.label)}" data-value="${total(c)}">${parts.join("")}</g>`
  })
  const axis =
    `<line x1="28" y1="${chartHeight}" x2="${width - 4}" y2="${chartHeight}" stroke="#444"/>` +
    `<text x="2" y="14">${fmt(max)}</text><text x="2" y="${chartHeight}">0</text>` +
    (columns.length > 0
      ? `<text x="30" y="${chartHeight + 16}">${escapeHtml(columns[0]!.label)}</text>` +
        `<text x="${width - 4}" y="${chartHeight + 16}" text-anchor="end">${escapeHtml(columns[columns.length - 1]!.label)}</text>`
      : `<text x="30" y="40">nothing in this window</text>`)
  const legend = series.map((s, k) => {
    const x = 8 + (k % 3) * 220
    const y = chartHeight + 30 + Math.floor(k / 3) * 22
    return `<g class="legend"><rect x="${x}" y="${y}" width="12" height="12" fill="${palette[k % palette.length]}"/><text x="${x + 18}" y="${y + 11}">${escapeHtml(s)}</text></g>`
  })
  const description = columns.map((c) => `${c.label}: ${total(c)}`).join("; ") || "none"
  return svg(
    id,
    title,
    description,
    width,
    chartHeight + 30 + legendHeight,
    marks.join("") + axis + legend.join(""),
  )
}

const svg = (id: string, title: string, description: string, width: number, height: number, body: string) =>
  `<svg id="${escapeHtml(id)}" class="chart" role="img" aria-labelledby="${escapeHtml(id)}-title ${escapeHtml(id)}-desc" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">` +
  `<title id="${escapeHtml(id)}-title">${escapeHtml(title)}</title><desc id="${escapeHtml(id)}-desc">${escapeHtml(description)}</desc>${body}</svg>`
