// @ts-check
// The figures, notes and panels of one render, and clearing them all at sign-out.
import { $, h, input } from "./dom.js";
import { drawCumulative, drawDaily, drawHours } from "./charts.js";
import { fmt, fmtDate, fmtInstant, fmtShort, periodLabel, shiftPeriod, timeZone } from "./format.js";
import { resetState, state } from "./state.js";
import { renderDenied, renderTable } from "./tables.js";

/** @typedef {import("./state.js").View} View */
/** @typedef {import("./state.js").Summary} Summary */

const FIGURES = ["consumed", "included", "remaining", "overage", "runrate", "forecast", "active", "units", "denied"];

/**
 * @param {string} id
 * @param {number | null | undefined} value
 */
function setNumber(id, value) {
  const el = $(id);
  el.textContent = fmt(value);
  el.dataset.value = value === null || value === undefined ? "" : String(value);
}

/** @param {string | number | null | undefined} value */
function normStatus(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return ["behind", "ontrack", "ahead"][value] || null;
  return String(value).toLowerCase().replace(/[^a-z]/g, "");
}

/**
 * @param {import("./state.js").Forecast | null | undefined} f
 * @param {"includedRunOut" | "limitRunOut"} name
 */
function runOut(f, name) {
  if (!f) return null;
  return { at: f[name] || null, outcome: normStatus(f[name === "includedRunOut" ? "includedRunOutOutcome" : "limitRunOutOutcome"]) };
}

/**
 * Whether the chosen month has a pool: "covered" by the license, "outside" its validity, or "none" (no license).
 * An older server does not say; then a month with included minutes is covered.
 * @param {Summary} summary
 */
function coverageOf(summary) {
  return summary.licenseCoverage || (summary.includedMinutes === undefined || summary.includedMinutes === null ? "none" : "covered");
}

/**
 * Draws every panel from one poll's answers.
 * @param {View} d
 * @param {(name: "users" | "apps") => void} reloadTable
 */
export function render(d, reloadTable) {
  state.lastRender = d;
  const s = d.summary;
  const coverage = coverageOf(s);
  const empty = s.events === 0 && s.consumedMinutes === 0 && s.units === 0;
  $("empty").hidden = !empty;
  $("empty-license").textContent = coverage === "none" ? "Without a license the tenant is metered only: install one with PUT /api/v1/license."
    : coverage === "outside" && d.license ? `The license is valid from ${fmtDate(d.license.validFrom)} to ${fmtDate(d.license.validTo)}: it does not cover ${periodLabel(s.period)}, so this month has no pool.`
    : "";
  $("dashboard-period").textContent = ` · ${periodLabel(s.period)}`;

  setNumber("consumed", s.consumedMinutes);
  setNumber("included", s.includedMinutes ?? null);
  setNumber("remaining", s.remainingMinutes ?? null);
  setNumber("overage", s.overageMinutes);
  setNumber("units", s.units);
  setNumber("denied", s.deniedEvents);
  setNumber("active", d.active);
  $("consumed-sub").textContent = s.includedMinutes ? `${Math.round((s.consumedMinutes / s.includedMinutes) * 100)}% of included` : "";
  $("included-sub").textContent = coverage === "outside" ? "month not covered by the license" : coverage === "none" ? "no license: metered only" : periodLabel(s.period);
  $("remaining-sub").textContent = s.unlimited ? "unlimited overage" : s.limitMinutes !== undefined && s.limitMinutes !== null ? `limit ${fmt(s.limitMinutes)} min` : "no pool";
  $("overage-sub").textContent = s.limitMinutes && s.includedMinutes !== undefined && s.includedMinutes !== null
    ? `cap ${fmt(s.limitMinutes - s.includedMinutes)} min over included` : s.unlimited ? "no cap" : "";
  renderRunRate(s.runRate, coverage);
  renderForecast(s.forecast, s);

  drawCumulative(d);
  drawDaily(d);
  renderTable("users", d.users, reloadTable);
  renderTable("apps", d.apps, reloadTable);
  renderDenied(d.denials);
  renderAlerts(d.alerts);
  renderSources(d.sources);
  renderWaste(d.waste, d.sources);
  renderLicense(d.license, d.overview);
  renderAdvice(d.advice);
  updateScrollHints();
}

/**
 * Ahead of, on track with or behind the even pace; no verdict for a month without a pool.
 * @param {import("./state.js").RunRate | null | undefined} rr
 * @param {string} coverage
 */
function renderRunRate(rr, coverage) {
  const runrate = $("runrate");
  const sub = $("runrate-sub");
  if (rr) {
    const status = normStatus(rr.status);
    runrate.textContent = status === "ahead" ? "Ahead" : status === "behind" ? "Behind" : status === "ontrack" ? "On track" : String(rr.status);
    runrate.className = "status-" + (status || "");
    runrate.dataset.value = status || "";
    const delta = rr.deltaMinutes ?? 0;
    const pct = rr.deltaPercent ?? null;
    sub.textContent = rr.expectedMinutes !== undefined
      ? `expected ${fmt(rr.expectedMinutes)} min; ${delta >= 0 ? "+" : "−"}${fmt(Math.abs(delta))} min${pct === null ? "" : ` (${delta >= 0 ? "+" : "−"}${Math.abs(pct).toFixed(1)}%)`}`
      : "";
  } else if (coverage !== "covered") {
    setNumber("runrate", null);
    runrate.className = "";
    sub.textContent = coverage === "outside" ? "no pool this month to pace against" : "no license: no pool to pace against";
  } else {
    runrate.textContent = "not available";
    runrate.className = "na";
    sub.textContent = "this server has no run-rate yet";
  }
}

/**
 * When the included minutes run out (or that they last), with the cap and the projection in the note.
 * @param {import("./state.js").Forecast | null | undefined} f
 * @param {Summary} s
 */
function renderForecast(f, s) {
  const forecast = $("forecast");
  const sub = $("forecast-sub");
  forecast.className = "";
  if (!f) {
    forecast.textContent = "not available";
    forecast.className = "na";
    sub.textContent = "this server has no forecast yet";
    return;
  }
  const included = runOut(f, "includedRunOut");
  const limit = runOut(f, "limitRunOut");
  const projected = f.projectedMinutes ?? null;
  forecast.textContent = included && included.at ? (included.outcome === "alreadyreached" ? "Used up" : fmtShort(included.at))
    : s.includedMinutes ? "Lasts the period" : "–";
  const notes = [
    included && included.at && included.outcome !== "alreadyreached" ? "included runs out" : null,
    limit && limit.at ? (limit.outcome === "alreadyreached" ? "cap reached" : `cap ${fmtShort(limit.at)}`) : null,
    projected !== null ? `~${fmt(projected)} min by period end` : null,
  ];
  sub.textContent = notes.filter(Boolean).join("; ") + (included && included.at && timeZone() === "UTC" ? " (UTC)" : "");
  $("forecast-range").textContent = rangeText(f);
  $("forecast-model").textContent = modelText(f.model);
}

/**
 * The forecast's 10th–90th percentile range in words: the period's demand, then the included minutes' run-out and the
 * instants it lies between. A bound past the period's end says so rather than naming a day (the pool resets first).
 * An older server sends no range: then nothing is claimed.
 * @param {import("./state.js").Forecast} f
 */
export function rangeText(f) {
  const r = f.range;
  const demand = f.projectedDemandMinutes ?? f.projectedMinutes ?? null;
  if (!r || demand === null) return "";
  const parts = [`forecast ${fmt(Math.round(demand))} min (10–90 %: ${fmt(Math.round(r.projectedDemandLowMinutes))}–${fmt(Math.round(r.projectedDemandHighMinutes))})`];
  const point = runOut(f, "includedRunOut");
  const early = bound(r.includedRunOutEarliest, r.includedRunOutEarliestOutcome);
  const late = bound(r.includedRunOutLatest, r.includedRunOutLatestOutcome);
  if (point && point.at && point.outcome !== "alreadyreached") {
    parts.push(`runs out ${fmtShort(point.at)}, between ${early} and ${late}`);
  } else if (r.includedRunOutEarliest && normStatus(r.includedRunOutEarliestOutcome) === "projected") {
    // The point forecast lasts the period, the pessimistic bound does not: worth saying.
    parts.push(`may run out from ${early} (10 % chance or more)`);
  }
  return parts.join("; ");
}

/**
 * One bound of the run-out range as shown.
 * @param {string | null | undefined} at
 * @param {string | null | undefined} outcome
 */
function bound(at, outcome) {
  const o = normStatus(outcome);
  if (at && (o === "projected" || o === "alreadyreached")) return fmtShort(at);
  return o === "notwithinperiod" ? "after the period" : "never";
}

/**
 * What the forecast read: the holiday calendar, the tenant's closure days, the trend and a level shift.
 * @param {import("./state.js").ForecastModel | null | undefined} m
 */
export function modelText(m) {
  if (!m) return "";
  const trend = m.trendPercentPerWeek;
  return [
    m.holidayCountry ? `holidays ${m.holidayCountry}` : "no public holidays",
    m.closureDays > 0 ? `${fmt(m.closureDays)} closure day${m.closureDays === 1 ? "" : "s"}` : null,
    `trend ${trend > 0 ? "+" : trend < 0 ? "−" : ""}${Math.abs(trend).toFixed(1)} %/week`,
    // A local date, shown as it is: read as an instant it would move a day in zones west of UTC.
    m.levelShiftDay ? `level shift from ${m.levelShiftDay}` : null,
  ].filter(Boolean).join(" · ");
}

/** @param {import("./state.js").Alerts | null} alerts */
function renderAlerts(alerts) {
  const box = $("alerts");
  if (alerts === null || alerts === undefined) {
    box.replaceChildren(h("p", { class: "na" }, "Alert history is not available on this server."));
    return;
  }
  const list = alerts.alerts || [];
  if (list.length === 0) {
    box.replaceChildren(h("p", { class: "na" }, "No alert has fired yet. Admins add rules and channels with POST /api/v1/alerts/rules."));
    return;
  }
  box.replaceChildren(h("ul", { class: "plain", "data-testid": "alert-list" }, list.map((a) =>
    h("li", {}, h("strong", {}, a.ruleKind || "alert"), a.subject ? ` (${a.subject})` : "", ": ", a.message || "",
      " ", h("span", { class: "hint" }, `${fmtInstant(a.firedAt)} · ${alertStatus(a)}`)))));
}

/**
 * The sources of observed usage (rule R13): how each is doing, so an admin sees a stopped or lagging one at once.
 * @param {import("./state.js").Source[] | null | undefined} sources
 */
function renderSources(sources) {
  const box = $("sources");
  if (!sources || sources.length === 0) {
    box.replaceChildren(h("p", { class: "na" }, sources ? "Metered by Tally: this tenant observes no Qlik source (docs/qlik-import.md)."
      : "Sources are not available on this server."));
    return;
  }
  box.replaceChildren(h("ul", { class: "plain", "data-testid": "source-list" }, sources.map((s) =>
    h("li", { "data-state": s.status.state },
      h("strong", {}, s.id), ` (${s.kind}): `, h("span", { class: "status-" + s.status.state }, s.status.state),
      ` · ${fmt(s.status.records)} records`,
      s.status.lastSuccess ? ` · last read ${fmtInstant(s.status.lastSuccess)}` : " · never read",
      s.status.lagSeconds !== null && s.status.lagSeconds !== undefined ? ` · ${fmt(Math.round(s.status.lagSeconds / 60))} min behind` : "",
      s.status.rejected ? h("span", { class: "hint", "data-testid": "source-rejected" }, ` · ${fmt(s.status.rejected)} unusable set aside (${s.status.lastRejection || ""})`) : "",
      s.status.lastError ? h("span", { class: "hint" }, ` ${s.status.failure || "error"}: ${s.status.lastError}`) : ""))));
}

/**
 * What scheduled reloads charged idle users (rule R14): the period's total and share, the apps and users it hit most,
 * and the local hours of day the reloads ran.
 * @param {import("./state.js").Waste | null | undefined} waste
 * @param {import("./state.js").Source[] | null | undefined} sources
 */
function renderWaste(waste, sources) {
  const summary = $("waste-summary"), apps = $("waste-apps"), users = $("waste-users");
  if (!waste) {
    summary.replaceChildren(h("span", { class: "na" }, sources && sources.length
      ? "Not available for a tenant that observes another license service: its records do not say what started a unit."
      : "Not available on this server."));
    apps.replaceChildren();
    users.replaceChildren();
    $("waste-hours").replaceChildren();
    return;
  }
  /** @param {number | null | undefined} share */
  const pct = (share) => share === null || share === undefined ? null : `${(share * 100).toFixed(share < 0.1 ? 1 : 0)} %`;
  const shares = [pct(waste.shareOfConsumed) && `${pct(waste.shareOfConsumed)} of consumed`,
    pct(waste.shareOfIncluded) && `${pct(waste.shareOfIncluded)} of included`].filter(Boolean).join(", ");
  summary.dataset.value = String(waste.idleReloadMinutes);
  summary.replaceChildren(
    h("strong", {}, `${fmt(waste.idleReloadMinutes)} min`),
    ` in ${fmt(waste.idleReloadUnits)} units charged by scheduled reloads to users idle for ${waste.quietMinutes} minutes or more`,
    shares ? ` (${shares})` : "",
    `; reloads started ${fmt(waste.reloadUnits)} units (${fmt(waste.reloadMinutes)} min) in all.`);
  /**
   * @param {HTMLElement} box
   * @param {{ name: string, minutes: number, units: number, note: string }[]} rows
   * @param {number} count
   * @param {string} noun
   */
  const list = (box, rows, count, noun) => box.replaceChildren(...(rows.length === 0
    ? [h("p", { class: "na" }, `No ${noun} was charged by a reload while idle.`)]
    : [h("ol", { class: "plain" }, rows.map((r) => h("li", {}, h("strong", {}, r.name), `: ${fmt(r.minutes)} min, ${fmt(r.units)} units${r.note}`))),
      count > rows.length ? h("p", { class: "hint" }, `and ${fmt(count - rows.length)} more ${noun}s`) : ""]));
  list(apps, waste.apps.map((a) => ({ name: a.app, minutes: a.idleReloadMinutes, units: a.idleReloadUnits,
    note: ` · ${fmt(a.idleUsers)} idle ${a.idleUsers === 1 ? "user" : "users"}` })), waste.appCount, "app");
  list(users, waste.users.map((u) => ({ name: u.user, minutes: u.idleReloadMinutes, units: u.idleReloadUnits,
    note: ` of ${fmt(u.reloadMinutes)} min from reloads` })), waste.userCount, "user");
  drawHours($("waste-hours"), waste.hours, waste.timeZone);
}

/**
 * "no-channel": the rule has no channel, so the firing is only recorded here (the demo's rules are such).
 * @param {import("./state.js").Alert} a
 */
function alertStatus(a) {
  return a.status === "no-channel" ? "recorded (no delivery channel)" : `${a.channelKind || ""} ${a.status || ""}`.trim();
}

/**
 * @param {import("./state.js").License | null} license
 * @param {import("./state.js").Overview | null} overview
 */
function renderLicense(license, overview) {
  const box = $("license");
  const seats = new Map(((overview && overview.allotments) || []).map((a) => [a.name, a]));
  if (!license) {
    box.replaceChildren(h("p", { class: "na" }, "No license is installed: every unit is granted and nothing is pooled (meter only)."));
    return;
  }
  const pro = seats.get("professional"), ana = seats.get("analyzer");
  const rows = [
    ["Customer", license.customer], ["License", license.licenseId],
    ["Valid", `${fmtInstant(license.validFrom, true)} – ${fmtInstant(license.validTo, true)}`],
    ["Capacity", `${fmt(license.packs)} packs × ${fmt(license.packMinutes)} min = ${fmt(license.includedMinutes)} min / month`],
    ["Overage", license.overage], ["Unit", `${license.unitMinutes} minutes, counted per ${license.mode}`],
    ["Professional seats", pro ? `${fmt(pro.unitsUsed)} of ${fmt(pro.units)} in use` : "–"],
    ["Analyzer seats", ana ? `${fmt(ana.unitsUsed)} of ${fmt(ana.units)} in use` : "–"],
    ["Time zone", license.timeZone],
  ];
  box.replaceChildren(h("dl", { class: "terms", "data-testid": "license-terms" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
}

/** The advisor's path for the prices entered: the user's, in the currency they name (the API echoes it). */
export function advisorQuery() {
  const seat = Number(input("seat-price").value), pack = Number(input("pack-price").value);
  const currency = input("currency").value.trim().toUpperCase();
  return `/api/v1/advice/seats?seatPrice=${encodeURIComponent(seat > 0 ? seat : 40)}&packPrice=${encodeURIComponent(pack > 0 ? pack : 300)}`
    + (currency ? `&currency=${encodeURIComponent(currency)}` : "");
}

/** @param {import("./state.js").Advice | null} advice */
function renderAdvice(advice) {
  const box = $("advisor");
  if (advice === null || advice === undefined) {
    box.replaceChildren(h("p", { class: "na" }, "The seat advisor is not available on this server, or the prices are not valid."));
    return;
  }
  /** @param {number} v */
  const money = (v) => (advice.currency ? advice.currency + " " : "")
    + Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const toSeat = advice.toAnalyzerSeat || [], toCap = advice.toCapacity || [];
  const items = [
    ...toSeat.map((r) => `${r.user}: ${fmt(r.monthlyMinutes)} min a month on capacity; a named Analyzer seat saves ${money(r.monthlySaving)} a month`),
    ...toCap.map((r) => `${r.user}: ${fmt(r.monthlyMinutes)} min a month on an Analyzer seat; capacity saves ${money(r.monthlySaving)} a month`),
  ];
  box.replaceChildren(
    h("p", {}, `Break-even: ${fmt(advice.breakEvenMinutes)} min a month per user. Possible saving: ${money(advice.totalMonthlySaving || 0)} a month.`),
    items.length ? h("ul", { class: "plain", "data-testid": "advice-list" }, items.slice(0, 12).map((t) => h("li", {}, t))) : h("p", { class: "na" }, "Every user is on the cheaper allocation."));
}

/** A table wider than its panel scrolls sideways: then its region takes the keyboard (tabindex) and the hint shows. */
export function updateScrollHints() {
  for (const box of document.querySelectorAll("#dashboard .scroll")) {
    const wide = box.scrollWidth > box.clientWidth + 1;
    if (wide) box.setAttribute("tabindex", "0"); else box.removeAttribute("tabindex");
    const hint = box.nextElementSibling;
    if (hint && hint.classList.contains("scroll-hint")) hint.classList.toggle("shown", wide);
  }
}

/** The current month and the twelve before it. */
export function buildPeriodPicker() {
  const current = state.currentPeriod;
  if (!current) return;
  const select = $("period");
  const chosen = state.period || current;
  select.replaceChildren();
  for (let i = 0; i < 13; i++) {
    const id = shiftPeriod(current, -i);
    select.append(h("option", { value: id, selected: id === chosen }, periodLabel(id) + (i === 0 ? " (current)" : "")));
  }
}

/** Nothing of the last session stays on the page: figures, notes, charts, tables, searches. */
export function clearDashboard() {
  for (const id of FIGURES) setNumber(id, null);
  for (const el of document.querySelectorAll("#dashboard .sub[id], #chart, #chart-legend, #daily, #denied-list, #license, #advisor, #alerts, #sources, #waste-summary, #waste-apps, #waste-users, #waste-hours, .pager")) el.replaceChildren();
  for (const body of document.querySelectorAll("#dashboard tbody")) body.replaceChildren();
  for (const search of document.querySelectorAll("#users-search, #apps-search")) /** @type {HTMLInputElement} */ (search).value = "";
  $("dashboard-period").textContent = "";
  resetState();
}

/** Redraws the charts for a new width (the data is the last render's). */
export function redraw() {
  if (!state.lastRender) return;
  drawCumulative(state.lastRender);
  drawDaily(state.lastRender);
  if (state.lastRender.waste) drawHours($("waste-hours"), state.lastRender.waste.hours, state.lastRender.waste.timeZone);
  updateScrollHints();
}
