// Minimal, dependency-free SVG charts for benchmark results (line/scatter with optional log x).
// Charts are generated from the same JSON the tables come from.

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf']

function niceTicks(min, max, count = 5) {
  if (min === max) return [min]
  const span = max - min
  const step0 = span / count
  const mag = 10 ** Math.floor(Math.log10(step0))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag
  const ticks = []
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(+v.toPrecision(12))
  return ticks
}

function logTicks(min, max) {
  const ticks = []
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) ticks.push(10 ** e)
  return ticks.filter((t) => t >= min / 1.0001 && t <= max * 1.0001)
}

function label(v) {
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`
  if (Math.abs(v) >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`
  return `${+v.toPrecision(3)}`
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * series: [{ name, points: [[x, y, label?], ...] }]; options: { title, xLabel, yLabel, logX, logY,
 * width, height, pointLabels }. Points of a series are joined by lines in the given order and
 * drawn as dots; with `pointLabels`, a point's third element is written next to it.
 */
export function lineChart(series, { title, xLabel, yLabel, logX = false, logY = false, width = 640, height = 400, pointLabels = false } = {}) {
  // The legend sits right of the plot: make room for its longest name (~6.6 px a character at 12 px).
  const legendWidth = 42 + Math.ceil(6.6 * Math.max(0, ...series.map((s) => s.name.length)))
  const m = { left: 64, right: Math.max(pointLabels ? 230 : 160, legendWidth), top: 40, bottom: 52 }
  const pw = width - m.left - m.right
  const ph = height - m.top - m.bottom
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).filter((v) => !logX || v > 0)
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => !logY || v > 0)
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)]
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)]
  if (x0 === x1) [x0, x1] = [x0 * 0.9 || -1, x1 * 1.1 || 1]
  if (y0 === y1) [y0, y1] = [y0 * 0.9 || -1, y1 * 1.1 || 1]
  const fx = logX ? (v) => (Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0)) : (v) => (v - x0) / (x1 - x0)
  const fy = logY ? (v) => (Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0)) : (v) => (v - y0) / (y1 - y0)
  const X = (v) => m.left + fx(v) * pw
  const Y = (v) => m.top + ph - fy(v) * ph
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.left + pw / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(title ?? '')}</text>`,
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`,
  ]
  for (const t of logX ? logTicks(x0, x1) : niceTicks(x0, x1)) {
    out.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.top}" y2="${m.top + ph}" stroke="#ddd"/>`)
    out.push(`<text x="${X(t)}" y="${m.top + ph + 16}" text-anchor="middle">${label(t)}</text>`)
  }
  for (const t of logY ? logTicks(y0, y1) : niceTicks(y0, y1)) {
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#ddd"/>`)
    out.push(`<text x="${m.left - 6}" y="${Y(t) + 4}" text-anchor="end">${label(t)}</text>`)
  }
  out.push(`<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel ?? '')}</text>`)
  out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel ?? '')}</text>`)
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]
    const pts = s.points.filter(([x, y]) => (!logX || x > 0) && (!logY || y > 0))
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`)
    for (const [x, y] of pts) out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3.5" fill="${color}"/>`)
    if (pointLabels) {
      for (const [x, y, text] of pts) {
        // Above the dot for even series, below for odd ones, so coinciding points stay legible.
        const dy = i % 2 === 0 ? -6 : 14
        // Left of the dot near the right edge, so labels stay inside the plot.
        const right = X(x) > m.left + 0.75 * pw
        if (text !== undefined) {
          out.push(`<text x="${(X(x) + (right ? -6 : 6)).toFixed(1)}" y="${(Y(y) + dy).toFixed(1)}" font-size="10" fill="${color}"${right ? ' text-anchor="end"' : ''}>${esc(text)}</text>`)
        }
      }
    }
    const ly = m.top + 12 + i * 18
    out.push(`<rect x="${m.left + pw + 12}" y="${ly - 9}" width="12" height="12" fill="${color}"/>`)
    out.push(`<text x="${m.left + pw + 30}" y="${ly + 1}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
