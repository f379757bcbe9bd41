// @ts-check
// The two charts, drawn as SVG from the server's series: the cumulative curve from the hourly timeline, the bars
// from the daily one. Nothing is recomputed from raw units.
import { $, h, s } from "./dom.js";
import { countTicks, dayLabels, daysIn, fmt, localDayStart, niceMax, periodLabel } from "./format.js";

/** @typedef {import("./state.js").View} View */

/**
 * Day numbers under a chart: each at the start of its local day, the last one the month's real last day.
 * @param {SVGElement} svg
 * @param {string} period
 * @param {(day: number) => number} x
 * @param {number} y
 * @param {boolean} narrow
 */
function drawDayAxis(svg, period, x, y, narrow) {
  for (const day of dayLabels(daysIn(period), narrow ? 10 : 5)) {
    svg.append(s("text", { x: x(day).toFixed(1), y, "text-anchor": "middle", "data-axis": "day", text: String(day) }));
  }
}

/**
 * The consumed curve's path: flat where an hour had no units, rising across each hour that had some (the server
 * counts minutes per hour of unit start, so where in the hour they started is not known), to `now`.
 * @param {View} d
 * @param {(t: number) => number} x
 * @param {(v: number) => number} y
 * @param {number} t0
 * @param {number} now
 * @returns {{ path: string, total: number }}
 */
function consumedPath(d, x, y, t0, now) {
  let total = 0;
  let path = `M${x(t0).toFixed(1)},${y(0).toFixed(1)}`;
  for (const b of d.hourly ? d.hourly.buckets : []) {
    if (b.minutes <= 0) continue;
    const start = Date.parse(b.start);
    path += `H${x(start).toFixed(1)}`;
    total += b.minutes;
    path += `L${x(Math.max(start, Math.min(Date.parse(b.end), now))).toFixed(1)},${y(total).toFixed(1)}`;
  }
  path += `H${x(now).toFixed(1)}`;
  return { path, total };
}

/** @param {View} d */
export function drawCumulative(d) {
  const box = $("chart");
  const sum = d.summary;
  const W = Math.max(280, box.clientWidth || 600), H = Math.max(160, box.clientHeight || 300);
  const m = { l: 56, r: 12, t: 12, b: 26 };
  const t0 = Date.parse(sum.start), t1 = Date.parse(sum.end);
  const now = Math.min(Math.max(Date.parse(d.now), t0), t1);
  const included = sum.includedMinutes ?? null;
  const limit = sum.limitMinutes ?? null;
  const projected = sum.forecast ? (sum.forecast.projectedMinutes ?? null) : null;
  // The forecast's 10th–90th percentile demand at the period's end (absent from an older server).
  const range = sum.forecast && sum.forecast.range ? sum.forecast.range : null;
  const hourlyTotal = d.hourly ? d.hourly.buckets.reduce((a, b) => a + b.minutes, 0) : 0;
  const high = Math.max(hourlyTotal, included || 0, limit || 0, projected || 0, range ? range.projectedDemandHighMinutes : 0, sum.consumedMinutes || 0, 10) * 1.05;
  const tick = niceMax(high / 4);
  const top = tick * Math.ceil(high / tick);
  /** @param {number} t */
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
  /** @param {number} v */
  const y = (v) => H - m.b - (v / top) * (H - m.t - m.b);

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-testid": "chart-svg" });
  const grid = s("g", { stroke: "#e3e8ee", "stroke-width": 1 });
  for (let v = 0; v <= top; v += tick) {
    grid.append(s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
    svg.append(s("text", { x: m.l - 6, y: y(v) + 4, "text-anchor": "end", "data-axis": "minutes", text: fmt(v) }));
  }
  svg.prepend(grid);
  drawDayAxis(svg, sum.period, (day) => x(localDayStart(t0, day - 1)), H - 8, W < 500);
  svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(0), y2: y(0), stroke: "#8896a8" }));
  /** @type {[string, string][]} */
  const legend = [];
  if (included !== null) {
    svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(included), y2: y(included), stroke: "var(--incl)", "stroke-width": 1.5, "data-series": "included" }));
    svg.append(s("line", { x1: x(t0), y1: y(0), x2: x(t1), y2: y(included), stroke: "var(--pace)", "stroke-width": 1.5, "stroke-dasharray": "2 4", "data-series": "run-rate" }));
    legend.push(["sw-incl", `included ${fmt(included)} min`], ["sw-pace", "run-rate pace"]);
  }
  if (limit !== null && limit !== included) {
    svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(limit), y2: y(limit), stroke: "var(--cap)", "stroke-width": 1.5, "data-series": "cap" }));
    legend.push(["sw-cap", `cap ${fmt(limit)} min`]);
  }
  const consumed = consumedPath(d, x, y, t0, now);
  svg.append(s("path", { d: consumed.path, fill: "none", stroke: "var(--used)", "stroke-width": 2.2, "data-series": "consumed", "data-total": consumed.total }));
  legend.unshift(["sw-used", `consumed ${fmt(sum.consumedMinutes)} min`]);
  if (range && now < t1 && range.projectedDemandHighMinutes > range.projectedDemandLowMinutes) {
    // A wedge from now to the range at the period's end, under the point forecast's dashed line.
    const from = `${x(now).toFixed(1)},${y(sum.consumedMinutes).toFixed(1)}`;
    svg.append(s("path", { d: `M${from}L${x(t1).toFixed(1)},${y(range.projectedDemandHighMinutes).toFixed(1)}`
      + `L${x(t1).toFixed(1)},${y(range.projectedDemandLowMinutes).toFixed(1)}Z`,
      fill: "var(--fore)", "fill-opacity": 0.15, stroke: "none", "data-series": "forecast-range" }));
    legend.push(["sw-range", `10–90 %: ${fmt(Math.round(range.projectedDemandLowMinutes))}–${fmt(Math.round(range.projectedDemandHighMinutes))} min`]);
  }
  if (projected !== null && now < t1) {
    svg.append(s("path", { d: `M${x(now).toFixed(1)},${y(sum.consumedMinutes).toFixed(1)}L${x(t1).toFixed(1)},${y(projected).toFixed(1)}`,
      fill: "none", stroke: "var(--fore)", "stroke-width": 2, "stroke-dasharray": "7 5", "data-series": "forecast" }));
    legend.push(["sw-fore", `forecast ${fmt(projected)} min`]);
  }
  if (now > t0 && now < t1) {
    svg.append(s("line", { x1: x(now), x2: x(now), y1: m.t, y2: H - m.b, stroke: "#b7c0cc", "stroke-dasharray": "3 3" }));
  }
  box.replaceChildren(svg);
  box.setAttribute("aria-label", `Cumulative consumption: ${fmt(sum.consumedMinutes)} minutes consumed`
    + (included !== null ? ` of ${fmt(included)} included` : "") + (projected !== null ? `, forecast ${fmt(projected)} by period end` : ""));
  $("chart-legend").replaceChildren(...legend.map(([cls, text]) => h("li", {}, h("span", { class: "swatch " + cls, "aria-hidden": "true" }), text)));
}

/** @param {View} d */
export function drawDaily(d) {
  const box = $("daily");
  const sum = d.summary;
  const W = Math.max(280, box.clientWidth || 600), H = Math.max(120, box.clientHeight || 160);
  const m = { l: 40, r: 8, t: 8, b: 22 };
  // A slot for every day of the month, the days still to come included, so a bar's width never changes.
  const days = daysIn(sum.period);
  const counts = new Array(days).fill(0), deniedDays = new Array(days).fill(0);
  if (d.daily) d.daily.buckets.slice(0, days).forEach((b, i) => { counts[i] = b.units; deniedDays[i] = b.deniedEvents; });
  const { top, ticks } = countTicks(Math.max(...counts));
  const bw = (W - m.l - m.r) / days;
  /** @param {number} v */
  const y = (v) => H - m.b - (v / top) * (H - m.t - m.b);
  const svg = barChart(W, H, m, ticks, y, "daily-svg", "count");
  counts.forEach((c, i) => {
    const day = s("g", { "data-day": i + 1 });
    if (c > 0) {
      day.append(s("rect", { x: (m.l + i * bw + 1).toFixed(1), y: y(c).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: (y(0) - y(c)).toFixed(1), fill: "var(--used)" },
        s("title", { text: `Day ${i + 1}: ${c} units` })));
    }
    if (deniedDays[i] > 0) {
      day.append(s("rect", { x: (m.l + i * bw + 1).toFixed(1), y: (H - m.b + 1).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: 4, fill: "var(--bad)" },
        s("title", { text: `Day ${i + 1}: ${deniedDays[i]} denied events` })));
    }
    svg.append(day);
  });
  drawDayAxis(svg, sum.period, (n) => m.l + (n - 1) * bw + bw / 2, H - 6, W < 500);
  box.replaceChildren(svg);
  box.dataset.period = sum.period;
  box.setAttribute("aria-label", `Units per day of ${periodLabel(sum.period)}; the busiest day had ${Math.max(...counts)} units`);
}

/**
 * An empty bar chart: its frame and its value axis (a grid line and a label per tick).
 * @param {number} W
 * @param {number} H
 * @param {{ l: number, r: number, t: number, b: number }} m
 * @param {number[]} ticks
 * @param {(v: number) => number} y
 * @param {string} testId
 * @param {string} axis
 */
function barChart(W, H, m, ticks, y, testId, axis) {
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-testid": testId });
  for (const v of ticks) {
    svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), stroke: "#e3e8ee" }));
    svg.append(s("text", { x: m.l - 5, y: y(v) + 4, "text-anchor": "end", "data-axis": axis, text: fmt(v) }));
  }
  return svg;
}

/**
 * Idle-reload minutes per local hour of day (0–23), a bar per hour: when in the day reloads charge idle users.
 * @param {HTMLElement} box
 * @param {import("./state.js").WasteHour[]} hours
 * @param {string} zone
 */
export function drawHours(box, hours, zone) {
  const W = Math.max(280, box.clientWidth || 600), H = Math.max(120, box.clientHeight || 160);
  const m = { l: 40, r: 8, t: 8, b: 22 };
  const minutes = new Array(24).fill(0);
  for (const row of hours) if (row.hour >= 0 && row.hour < 24) minutes[row.hour] = row.idleReloadMinutes;
  const { top, ticks } = countTicks(Math.max(...minutes));
  const bw = (W - m.l - m.r) / 24;
  /** @param {number} v */
  const y = (v) => H - m.b - (v / top) * (H - m.t - m.b);
  const svg = barChart(W, H, m, ticks, y, "waste-hours-svg", "minutes");
  minutes.forEach((v, hour) => {
    const g = s("g", { "data-hour": hour, "data-minutes": v });
    if (v > 0) {
      g.append(s("rect", { x: (m.l + hour * bw + 1).toFixed(1), y: y(v).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: (y(0) - y(v)).toFixed(1), fill: "var(--bad)" },
        s("title", { text: `${String(hour).padStart(2, "0")}:00–${String(hour).padStart(2, "0")}:59: ${fmt(v)} idle-reload minutes` })));
    }
    if (hour % 3 === 0) svg.append(s("text", { x: (m.l + hour * bw + bw / 2).toFixed(1), y: H - 6, "text-anchor": "middle", "data-axis": "hour", text: String(hour).padStart(2, "0") }));
    svg.append(g);
  });
  box.replaceChildren(svg);
  const busiest = minutes.indexOf(Math.max(...minutes));
  box.setAttribute("aria-label", Math.max(...minutes) > 0
    ? `Idle-reload minutes by hour of day (${zone}); the most, ${fmt(minutes[busiest])} minutes, at ${String(busiest).padStart(2, "0")}:00`
    : `Idle-reload minutes by hour of day (${zone}): none`);
}
