// Small canvas line charts for the learning panels (no dependencies).

const DPR = () => Math.max(1, Math.min(2, window.devicePixelRatio || 1));

function fmt(v) {
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.1) return v.toFixed(2);
  return v.toPrecision(2);
}

/**
 * Draws line series on a canvas.
 * series: [{ values: number[] (or [x, y][] with xy: true), color, label }]
 * opts: { min, max (fixed y range), zero (draw y=0), percent (labels as %), empty (text) }
 */
export function lineChart(canvas, series, opts = {}) {
  const dpr = DPR();
  const cssW = canvas.clientWidth || 300;
  const cssH = canvas.clientHeight || 120;
  if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
    canvas.width = Math.round(cssW * dpr);
    canvas.height = Math.round(cssH * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  const styles = getComputedStyle(document.documentElement);
  const muted = styles.getPropertyValue('--muted').trim() || '#8a94a6';
  const gridColor = styles.getPropertyValue('--grid').trim() || '#263042';

  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(0, ...series.map((s) => s.values.length));
  const left = 44;
  const right = 8;
  const top = 8;
  const bottom = 16;
  const w = cssW - left - right;
  const h = cssH - top - bottom;
  ctx.font = '11px system-ui, sans-serif';
  if (all.length === 0 || n === 0) {
    ctx.fillStyle = muted;
    ctx.textAlign = 'center';
    ctx.fillText(opts.empty || 'no data yet', cssW / 2, cssH / 2);
    return;
  }
  let lo = opts.min ?? Math.min(...all);
  let hi = opts.max ?? Math.max(...all);
  if (opts.zero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (hi - lo < 1e-12) {
    hi += 1;
    lo -= 1;
  }
  const y = (v) => top + h - ((v - lo) / (hi - lo)) * h;
  const x = (i) => left + (n <= 1 ? w / 2 : (i / (n - 1)) * w);

  ctx.strokeStyle = gridColor;
  ctx.lineWidth = 1;
  ctx.fillStyle = muted;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(left, yy);
    ctx.lineTo(left + w, yy);
    ctx.stroke();
    ctx.fillText(opts.percent ? `${fmt(v * 100)}%` : fmt(v), left - 4, yy);
  }
  if (opts.zero && lo < 0 && hi > 0) {
    ctx.strokeStyle = muted;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(left, y(0));
    ctx.lineTo(left + w, y(0));
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText(opts.xLabel || `${n} points`, left, cssH - 3);

  for (const s of series) {
    if (s.values.length === 0) continue;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let started = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const px = x(s.values.length === n ? i : i + (n - s.values.length));
      if (!started) {
        ctx.moveTo(px, y(v));
        started = true;
      } else ctx.lineTo(px, y(v));
    });
    if (s.values.length === 1) {
      ctx.arc(x(n - 1), y(s.values[0]), 2, 0, Math.PI * 2);
    }
    ctx.stroke();
  }
}

/**
 * A legend: [{ color, label, value?, data? }] into a container element. `value` is shown in
 * bold after the label; `data` goes into the key's dataset (e.g. `{ testid: 'x' }`).
 */
export function legend(el, items) {
  el.replaceChildren(
    ...items.map(({ color, label, value, data }) => {
      const span = document.createElement('span');
      span.className = 'key';
      if (data) Object.assign(span.dataset, data);
      const sw = document.createElement('i');
      sw.style.background = color;
      span.append(sw, document.createTextNode(label));
      if (value != null) {
        const b = document.createElement('b');
        b.textContent = String(value);
        span.append(' ', b);
      }
      return span;
    }),
  );
}
