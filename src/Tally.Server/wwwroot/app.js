// Tally dashboard: plain JavaScript, no framework, no third-party code. It signs in once (the server sets an
// HttpOnly session cookie), then polls the read API every few seconds and redraws what changed. Every figure is
// shown as the API returns it (minutes and units, integers); the browser's own clock is never used for figures:
// "now" comes from the server.
"use strict";

const POLL_MS = 2500;
const PAGE_SIZE = 10;
const UNIT_PAGE = 200; // the largest page Qlik's consumption API serves
const MAX_UNIT_PAGES_PER_POLL = 125;
const DAY_MS = 86400000;
const FIGURES = ["consumed", "included", "remaining", "overage", "runrate", "forecast", "active", "units", "denied"];
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

const $ = (id) => document.getElementById(id);
const state = {
  session: null,
  period: null,          // chosen YYYY-MM, or null for the current one
  currentPeriod: null,
  timeZone: "UTC",
  summary: null,
  units: null,           // { period, after, list: [{start, end, minutes, user}] }
  timer: null,
  inflight: null,        // the refresh under way, if any (sign-out waits for it, so no read runs after the session ends)
  again: false,          // a refresh was asked for while one ran: run once more when it ends
  lastRender: null,
  tables: {},
};

// ---------- small helpers ----------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const svgNs = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "text") el.textContent = v; else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c) el.append(c);
  return el;
}

const fmt = (n) => (n === null || n === undefined || Number.isNaN(n)) ? "–" : Math.round(Number(n)).toLocaleString("en-US");

function setNumber(id, value) {
  const el = $(id);
  el.textContent = fmt(value);
  el.dataset.value = value === null || value === undefined ? "" : String(value);
}

function fmtInstant(iso, withYear) {
  if (!iso) return "–";
  const d = new Date(iso);
  try {
    return new Intl.DateTimeFormat("en-GB", {
      timeZone: state.timeZone, day: "numeric", month: "short", year: withYear ? "numeric" : undefined,
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).format(d) + (state.timeZone === "UTC" ? " UTC" : "");
  } catch {
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }
}

// A date alone ("1 Feb 2026") in the license's time zone.
function fmtDate(iso) {
  if (!iso) return "–";
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: state.timeZone, day: "numeric", month: "short", year: "numeric" }).format(new Date(iso));
  } catch {
    return new Date(iso).toISOString().slice(0, 10);
  }
}

// Day, month and time without the zone ("27 Mar 10:00"): short enough for a card on a phone.
function fmtShort(iso) {
  if (!iso) return "–";
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: state.timeZone, day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
      .format(new Date(iso)).replace(",", "");
  } catch {
    return new Date(iso).toISOString().replace("T", " ").slice(5, 16);
  }
}

function fmtTime(iso) {
  try {
    return new Intl.DateTimeFormat("en-GB", { timeZone: state.timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }).format(new Date(iso));
  } catch {
    return new Date(iso).toISOString().slice(11, 19);
  }
}

function periodLabel(id) {
  const [y, m] = id.split("-").map(Number);
  return `${MONTHS[m - 1]} ${y}`;
}

// Days in a calendar month: the same in every time zone.
function daysIn(id) {
  const [y, m] = id.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

// The license's time zone's offset from UTC at an instant, in ms, from the local wall time Intl reports.
function zoneOffset(t) {
  try {
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: state.timeZone, hourCycle: "h23", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }).formatToParts(new Date(t));
    const get = (type) => Number(parts.find((p) => p.type === type).value);
    return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) - Math.floor(t / 1000) * 1000;
  } catch {
    return 0;
  }
}

// Where local day `d` (0 = the 1st) of a period starting at t0 begins: d days on, corrected when the offset changed
// since the 1st (daylight saving), so the day ticks sit on local midnights.
function localDayStart(t0, d) {
  const t = t0 + d * DAY_MS;
  return t - (zoneOffset(t) - zoneOffset(t0));
}

// The days (1-based) to label on a month's axis: every `step`th from the 1st, and always the month's last day; a regular
// label too close to the last one gives way to it.
function dayLabels(days, step) {
  const labels = [];
  for (let day = 1; day < days; day += step) if (days - day >= step / 2) labels.push(day);
  labels.push(days);
  return labels;
}

// Whole-unit ticks for a count axis: 0 alone when there is nothing, else 0 up to a round top in two to four round steps.
function countTicks(max) {
  if (max <= 0) return { top: 1, ticks: [0] };
  const step = niceStep(Math.max(1, max / 3));
  const top = step * Math.ceil(max / step);
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return { top, ticks };
}

// The smallest of 1, 2, 5, 10, 20, 50… that is at least v.
function niceStep(v) {
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p >= v) return m * p;
  }
}

function shiftPeriod(id, delta) {
  let [y, m] = id.split("-").map(Number);
  m += delta;
  while (m < 1) { m += 12; y -= 1; }
  while (m > 12) { m -= 12; y += 1; }
  return `${y}-${String(m).padStart(2, "0")}`;
}

class Unreachable extends Error {}
class SignedOut extends Error {}
class NeverSignedIn extends SignedOut {}

// Fetches JSON from the API with the session cookie. 401 means the session is gone; a network failure means the
// server cannot be reached; an optional endpoint that does not exist (404, 405) answers null.
async function api(path, { optional = false } = {}) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new Unreachable(String(e));
  }
  if (response.status === 401) throw new SignedOut();
  if (optional && (response.status === 404 || response.status === 405)) return null;
  if (response.status >= 500 && response.status !== 503) throw new Unreachable(`HTTP ${response.status}`);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    // problem+json on Tally's own routes, Qlik's error body ({ errors, message }) on the Qlik-compatible ones.
    const error = new Error((body && (body.detail || body.message || body.title)) || `HTTP ${response.status}`);
    error.status = response.status;
    error.body = body;
    throw error;
  }
  return body;
}

async function optionalApi(path) {
  try {
    return await api(path, { optional: true });
  } catch (e) {
    if (e instanceof SignedOut || e instanceof Unreachable) throw e;
    return null;
  }
}

function showBanner(text) {
  const b = $("banner");
  if (text) { b.textContent = text; b.hidden = false; } else { b.hidden = true; b.textContent = ""; }
}

function setLive(ok, text) {
  const live = $("live");
  live.className = "live " + (ok ? "ok" : "down");
  live.textContent = text;
}

// ---------- sign-in ----------
// Back to the sign-in form: polling stops, and nothing of the last session stays on the page (figures, tables,
// header). `note` is neutral news ("Signed out."), never styled as an error.
function showSignIn(note) {
  stopPolling();
  state.session = null;
  clearDashboard();
  $("dashboard").hidden = true;
  $("controls").classList.add("off");
  $("live").textContent = "";
  $("live").className = "live";
  $("tenant").textContent = "";
  $("signin").hidden = false;
  $("signin-note").textContent = note || "";
  $("signin-error").textContent = "";
  $("key").focus();
}

function clearDashboard() {
  for (const id of FIGURES) setNumber(id, null);
  for (const el of document.querySelectorAll("#dashboard .sub[id], #chart, #chart-legend, #daily, #denied-list, #license, #advisor, #alerts, .pager")) el.replaceChildren();
  for (const body of document.querySelectorAll("#dashboard tbody")) body.replaceChildren();
  for (const input of document.querySelectorAll("#users-search, #apps-search")) input.value = "";
  $("dashboard-period").textContent = "";
  Object.assign(state, { period: null, currentPeriod: null, summary: null, units: null, lastRender: null, tables: {} });
}

async function signIn(event) {
  event.preventDefault();
  const key = $("key").value.trim();
  const error = $("signin-error");
  if (!key) { error.textContent = "Enter an API key."; $("key").focus(); return; }
  $("signin-button").disabled = true;
  error.textContent = "";
  $("signin-note").textContent = "";
  try {
    let response;
    try {
      response = await fetch("/dashboard/session", {
        method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ key }),
      });
    } catch {
      error.textContent = "Cannot reach the Tally server. Check that it is running and try again.";
      return;
    }
    if (response.ok) {
      $("key").value = "";
      showBanner(null);
      await start(true);
      return;
    }
    const body = await response.json().catch(() => null);
    error.textContent = response.status === 401 ? "That key was refused: it is unknown or revoked."
      : response.status === 403 ? (body && body.detail) || "This key cannot open the dashboard; use a read or admin key."
      : (body && body.detail) || `Sign-in failed (HTTP ${response.status}).`;
    $("key").select();
  } finally {
    $("signin-button").disabled = false;
  }
}

// Polling stops and the read under way finishes before the session ends, so no request meets a dead session.
async function signOut() {
  stopPolling();
  if (state.inflight) await state.inflight.catch(() => {});
  try { await fetch("/dashboard/session", { method: "DELETE", credentials: "same-origin" }); } catch { /* signed out locally anyway */ }
  showSignIn("Signed out.");
}

// The session probe answers 200 either way ({signedIn}); a 401 means a session this browser had has ended.
async function currentSession() {
  const session = await api("/dashboard/session");
  if (!session || !session.signedIn) throw new NeverSignedIn();
  return session;
}

// `fromSignIn`: focus moves to the dashboard's heading, since the form that had it disappears.
async function start(fromSignIn) {
  let session;
  try {
    session = await currentSession();
  } catch (e) {
    if (e instanceof SignedOut) {
      showSignIn(e instanceof NeverSignedIn ? "" : "Your session ended (signed out, expired, the key was revoked, or the server restarted). Sign in again.");
      return;
    }
    showBanner("Cannot reach the Tally server. Retrying…");
    setTimeout(() => start(fromSignIn), 3000);
    return;
  }
  showBanner(null);
  state.session = session;
  $("signin").hidden = true;
  $("signin-note").textContent = "";
  $("dashboard").hidden = false;
  $("controls").classList.remove("off");
  $("live").textContent = "Connecting…";
  $("tenant").textContent = `· ${session.tenant} (${session.role})`;
  if (fromSignIn) $("dashboard-title").focus();
  state.units = null;
  await refresh(true);
  startPolling();
}

function startPolling() {
  stopPolling();
  state.timer = setInterval(() => refresh(false), POLL_MS);
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// ---------- data ----------
// One refresh at a time; one asked for meanwhile (a new period, new prices) runs right after, unless polling stopped.
function refresh(first) {
  if (state.inflight) {
    state.again = true;
    return state.inflight;
  }
  state.inflight = (async () => {
    let initial = first;
    do {
      state.again = false;
      await load(initial);
      initial = false;
    } while (state.again && state.timer !== null);
  })().finally(() => { state.inflight = null; });
  return state.inflight;
}

async function load(first) {
  try {
    const session = await currentSession();
    state.session = session;
    const q = state.period ? `?period=${encodeURIComponent(state.period)}` : "";
    const amp = state.period ? `&period=${encodeURIComponent(state.period)}` : "";
    const [summary, users, apps, license, overview, denied, daily] = await Promise.all([
      api("/api/v1/usage/summary" + q),
      api(tableQuery("users") + amp),
      api(tableQuery("apps") + amp),
      optionalApi("/api/v1/license"),
      optionalApi("/api/v1/licenses/overview"), // 404 without a license
      api("/api/v1/usage/users?sort=denied&order=desc&limit=" + PAGE_SIZE + amp),
      optionalApi("/api/v1/usage/timeline?granularity=day" + amp),
    ]);
    if (!state.currentPeriod || first) {
      const current = overview ? overview.period.id : null;
      state.currentPeriod = state.period ? state.currentPeriod || current || summary.period : summary.period;
      buildPeriodPicker();
    }
    state.timeZone = (license && license.timeZone) || "UTC";
    state.summary = summary;
    await loadUnits(summary);
    const active = await activeUsers(session.now);
    const [alerts, advice] = await Promise.all([
      optionalApi("/api/v1/alerts/history?limit=20"),
      optionalApi(advisorQuery() + amp),
    ]);
    render({ summary, users, apps, license, overview, denied: denied.users || [], daily, active, alerts, advice, now: session.now });
    showBanner(null);
    setLive(true, `Live · updated ${fmtTime(session.now)}`);
  } catch (e) {
    if (e instanceof SignedOut) {
      showSignIn("Your session ended (signed out, expired, the key was revoked, or the server restarted). Sign in again.");
    } else if (e instanceof Unreachable) {
      showBanner("Cannot reach the Tally server. Retrying every few seconds; the figures below may be out of date.");
      setLive(false, "Offline");
    } else {
      showBanner(`The server answered with an error: ${e.message}`);
      setLive(false, "Error");
    }
  }
}

// Reads every page of units matching a filter through the consumption API's cursor links (at most maxPages pages).
// Returns false when it stopped at maxPages with more to read.
async function eachUnit(filter, maxPages, onUnit) {
  let href = `/api/v1/licenses/consumption?limit=${UNIT_PAGE}&filter=${encodeURIComponent(filter)}`;
  for (let i = 0; i < maxPages; i++) {
    const page = await api(href);
    for (const r of page.data) onUnit(r);
    const next = page.links && page.links.next && page.links.next.href;
    if (!next) return true;
    // Links are absolute (Qlik's client needs that); the dashboard keeps to its own origin and session cookie.
    const url = new URL(next, window.location.href);
    href = url.pathname + url.search;
  }
  return false;
}

// A unit's length from its ISO 8601 duration (PT6M, PT1H30M, PT45S).
function durationMs(text) {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(text || "");
  return m ? ((Number(m[1] || 0) * 60 + Number(m[2] || 0)) * 60 + Number(m[3] || 0)) * 1000 : 0;
}

// Reads the period's granted units once, then on each poll only those ending at or after the latest end seen (ids
// already held are skipped, so a unit is never counted twice).
async function loadUnits(summary) {
  const period = summary.period;
  if (!state.units || state.units.period !== period) {
    state.units = { period, ids: new Set(), lastEnd: null, list: [], start: Date.parse(summary.start), end: Date.parse(summary.end), truncated: false };
  }
  const u = state.units;
  const from = new Date(u.lastEnd === null ? u.start : u.lastEnd).toISOString();
  const filter = `endTime ge "${from}" and endTime lt "${new Date(u.end + 86400000).toISOString()}"`;
  const complete = await eachUnit(filter, MAX_UNIT_PAGES_PER_POLL, (r) => {
    if (u.ids.has(r.id)) return;
    u.ids.add(r.id);
    const end = Date.parse(r.endTime);
    const start = end - durationMs(r.duration);
    u.lastEnd = u.lastEnd === null ? end : Math.max(u.lastEnd, end);
    if (start >= u.start && start < u.end) u.list.push({ start, end, minutes: r.minutesUsed, user: r.userId });
  });
  if (!complete) u.truncated = true;
}

async function activeUsers(nowIso) {
  const now = Date.parse(nowIso);
  const users = new Set();
  await eachUnit(`endTime gt "${nowIso}"`, MAX_UNIT_PAGES_PER_POLL, (r) => {
    if (Date.parse(r.endTime) - durationMs(r.duration) <= now) users.add(r.userId);
  });
  return users.size;
}

// ---------- rendering ----------
function normStatus(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return ["behind", "ontrack", "ahead"][value] || null;
  return String(value).toLowerCase().replace(/[^a-z]/g, "");
}

function runOut(f, name) {
  if (!f) return null;
  return { at: f[name] || null, outcome: normStatus(f[name + "Outcome"]) };
}

// Whether the chosen month has a pool: "covered" by the license, "outside" its validity, or "none" (no license).
// An older server does not say; then a month with included minutes is covered.
function coverageOf(summary) {
  return summary.licenseCoverage || (summary.includedMinutes === undefined || summary.includedMinutes === null ? "none" : "covered");
}

function render(d) {
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
  $("overage-sub").textContent = s.limitMinutes && s.includedMinutes !== undefined ? `cap ${fmt(s.limitMinutes - s.includedMinutes)} min over included` : s.unlimited ? "no cap" : "";
  renderRunRate(s.runRate, coverage);
  renderForecast(s.forecast, s);

  drawCumulative(d);
  drawDaily(d);
  renderTable("users", d.users);
  renderTable("apps", d.apps);
  renderDenied(d.denied, s);
  renderAlerts(d.alerts);
  renderLicense(d.license, d.overview);
  renderAdvice(d.advice);
  updateScrollHints();
}

// Ahead of, on track with or behind the even pace; no verdict for a month without a pool.
function renderRunRate(rr, coverage) {
  const runrate = $("runrate");
  const sub = $("runrate-sub");
  if (rr) {
    const status = normStatus(rr.status);
    runrate.textContent = status === "ahead" ? "Ahead" : status === "behind" ? "Behind" : status === "ontrack" ? "On track" : String(rr.status);
    runrate.className = "status-" + (status || "");
    runrate.dataset.value = status || "";
    const delta = rr.deltaMinutes ?? null;
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

// When the included minutes run out (or that they last), with the cap and the projection in the note.
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
  sub.textContent = notes.filter(Boolean).join("; ") + (included && included.at && state.timeZone === "UTC" ? " (UTC)" : "");
}

// A table wider than its panel scrolls sideways: then its region takes the keyboard (tabindex) and the hint shows.
function updateScrollHints() {
  for (const box of document.querySelectorAll("#dashboard .scroll")) {
    const wide = box.scrollWidth > box.clientWidth + 1;
    if (wide) box.setAttribute("tabindex", "0"); else box.removeAttribute("tabindex");
    const hint = box.nextElementSibling;
    if (hint && hint.classList.contains("scroll-hint")) hint.classList.toggle("shown", wide);
  }
}

function buildPeriodPicker() {
  const select = $("period");
  const chosen = state.period || state.currentPeriod;
  select.replaceChildren();
  for (let i = 0; i < 13; i++) {
    const id = shiftPeriod(state.currentPeriod, -i);
    select.append(h("option", { value: id, selected: id === chosen }, periodLabel(id) + (i === 0 ? " (current)" : "")));
  }
}

function niceMax(v) {
  if (v <= 0) return 10;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// Day numbers under a chart: each at the start of its local day, the last one the month's real last day.
function drawDayAxis(svg, period, x, y, narrow) {
  for (const day of dayLabels(daysIn(period), narrow ? 10 : 5)) {
    svg.append(s("text", { x: x(day).toFixed(1), y, "text-anchor": "middle", "data-axis": "day", text: String(day) }));
  }
}

function drawCumulative(d) {
  const box = $("chart");
  const sum = d.summary;
  const W = Math.max(280, box.clientWidth || 600), H = Math.max(160, box.clientHeight || 300);
  const m = { l: 56, r: 12, t: 12, b: 26 };
  const t0 = Date.parse(sum.start), t1 = Date.parse(sum.end);
  const now = Math.min(Math.max(Date.parse(d.now), t0), t1);
  const units = (state.units ? state.units.list : []).slice().sort((a, b) => a.start - b.start);
  const included = sum.includedMinutes ?? null;
  const limit = sum.limitMinutes ?? null;
  const projected = sum.forecast ? (sum.forecast.projectedMinutes ?? null) : null;
  const total = units.reduce((a, u) => a + u.minutes, 0);
  const high = Math.max(total, included || 0, limit || 0, projected || 0, sum.consumedMinutes || 0, 10) * 1.05;
  const tick = niceMax(high / 4);
  const top = tick * Math.ceil(high / tick);
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
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
  // The used curve: a step up at each unit's start.
  let cum = 0;
  let path = `M${x(t0).toFixed(1)},${y(0).toFixed(1)}`;
  for (const u of units) {
    path += `H${x(u.start).toFixed(1)}`;
    cum += u.minutes;
    path += `V${y(cum).toFixed(1)}`;
  }
  path += `H${x(Math.max(now, units.length ? units[units.length - 1].start : t0)).toFixed(1)}`;
  svg.append(s("path", { d: path, fill: "none", stroke: "var(--used)", "stroke-width": 2.2, "data-series": "consumed" }));
  legend.unshift(["sw-used", `consumed ${fmt(sum.consumedMinutes)} min`]);
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

function drawDaily(d) {
  const box = $("daily");
  const sum = d.summary;
  const W = Math.max(280, box.clientWidth || 600), H = Math.max(120, box.clientHeight || 160);
  const m = { l: 40, r: 8, t: 8, b: 22 };
  const t0 = Date.parse(sum.start);
  // A slot for every day of the month, the days still to come included, so a bar's width never changes.
  const days = daysIn(sum.period);
  const counts = new Array(days).fill(0), deniedDays = new Array(days).fill(0);
  if (d.daily && Array.isArray(d.daily.buckets)) {
    d.daily.buckets.slice(0, days).forEach((b, i) => { counts[i] = b.units; deniedDays[i] = b.deniedEvents; });
  } else {
    for (const u of state.units ? state.units.list : []) {
      const i = Math.floor((u.start - t0) / DAY_MS);
      if (i >= 0 && i < days) counts[i] += 1;
    }
  }
  const { top, ticks } = countTicks(Math.max(...counts));
  const bw = (W - m.l - m.r) / days;
  const y = (v) => H - m.b - (v / top) * (H - m.t - m.b);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, "data-testid": "daily-svg" });
  for (const v of ticks) {
    svg.append(s("line", { x1: m.l, x2: W - m.r, y1: y(v), y2: y(v), stroke: "#e3e8ee" }));
    svg.append(s("text", { x: m.l - 5, y: y(v) + 4, "text-anchor": "end", "data-axis": "count", text: fmt(v) }));
  }
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

// Sortable, searchable, paged tables: the API sorts, searches and pages (sort, order, search, limit, offset).
const TABLES = {
  users: {
    defaultSort: "minutes",
    columns: [
      { key: "user" }, { key: "allocation", text: (r) => r.allocation || "capacity" },
      { key: "minutes", num: true }, { key: "units", num: true }, { key: "apps", num: true },
      { key: "deniedEvents", num: true }, { key: "capMinutes", num: true, text: (r) => (r.capMinutes === null || r.capMinutes === undefined ? "–" : fmt(r.capMinutes)) },
      { key: "lastActivity", text: (r) => (r.lastActivity ? fmtInstant(r.lastActivity) : "–") },
    ],
  },
  apps: {
    defaultSort: "units",
    columns: [
      { key: "app" }, { key: "units", num: true }, { key: "minutes", num: true }, { key: "users", num: true },
      { key: "lastActivity", text: (r) => (r.lastActivity ? fmtInstant(r.lastActivity) : "–") },
    ],
  },
};

function tableState(name) {
  if (!state.tables[name]) state.tables[name] = { sort: TABLES[name].defaultSort, order: "desc", page: 0, query: "" };
  return state.tables[name];
}

function tableQuery(name) {
  const t = tableState(name);
  const search = t.query ? `&search=${encodeURIComponent(t.query)}` : "";
  return `/api/v1/usage/${name}?sort=${t.sort}&order=${t.order}&limit=${PAGE_SIZE}&offset=${t.page * PAGE_SIZE}${search}`;
}

async function reloadTable(name) {
  const q = state.period ? `&period=${encodeURIComponent(state.period)}` : "";
  try {
    renderTable(name, await api(tableQuery(name) + q));
    updateScrollHints();
  } catch (e) {
    if (e instanceof SignedOut) showSignIn("Your session ended. Sign in again.");
  }
}

function renderTable(name, result) {
  const t = tableState(name);
  // A poll sent before a click on a header or the pager answers for the old order or page: drawn, its rows would
  // disagree with the headers. The answer to the click's own request follows.
  if (result.sort !== undefined && (result.sort !== t.sort || result.order !== t.order || result.offset !== t.page * PAGE_SIZE)) return;
  const columns = TABLES[name].columns;
  const rows = result[name] || [];
  const total = result.total ?? rows.length;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const table = $(`${name}-table`);
  const body = table.tBodies[0];
  body.replaceChildren(...rows.map((r) => h("tr", {}, ...columns.map((c) =>
    h("td", { class: c.num ? "num" : null, "data-key": c.key, "data-value": r[c.key] ?? "" }, c.text ? c.text(r) : c.num ? fmt(r[c.key]) : r[c.key])))));
  if (rows.length === 0) {
    body.append(h("tr", {}, h("td", { colspan: columns.length, class: "na" }, t.query ? "No match." : "Nothing in this period yet.")));
  }
  for (const th of table.tHead.rows[0].cells) {
    const button = th.querySelector("button");
    if (!button) continue;
    th.setAttribute("aria-sort", button.dataset.key === t.sort ? (t.order === "asc" ? "ascending" : "descending") : "none");
  }
  const pager = $(`${name}-pager`);
  const focused = document.activeElement && pager.contains(document.activeElement) ? document.activeElement.dataset.dir : null;
  // The accessible name starts with the visible word ("Prev page of users"): speech users say what they see (WCAG 2.5.3).
  const prev = h("button", { type: "button", "data-dir": "prev", disabled: t.page === 0,
    onclick: () => { t.page = Math.max(0, t.page - 1); reloadTable(name); } },
  h("span", { "aria-hidden": "true" }, "‹ "), "Prev", h("span", { class: "visually-hidden" }, ` page of ${name}`));
  const next = h("button", { type: "button", "data-dir": "next", disabled: t.page >= pages - 1,
    onclick: () => { t.page++; reloadTable(name); } },
  "Next", h("span", { class: "visually-hidden" }, ` page of ${name}`), h("span", { "aria-hidden": "true" }, " ›"));
  pager.replaceChildren(prev, h("span", {}, `Page ${Math.min(t.page + 1, pages)} of ${pages} · ${fmt(total)} ${name}`), next);
  if (focused) {
    const again = [prev, next].find((b) => b.dataset.dir === focused && !b.disabled) || [prev, next].find((b) => !b.disabled);
    if (again) again.focus();
  }
}

// The handlers look the table's state up when they run: signing out starts every table afresh.
function wireTable(name) {
  let debounce = null;
  $(`${name}-search`).addEventListener("input", (e) => {
    const t = tableState(name);
    t.query = e.target.value.trim();
    t.page = 0;
    clearTimeout(debounce);
    debounce = setTimeout(() => reloadTable(name), 200);
  });
  for (const button of $(`${name}-table`).tHead.querySelectorAll("button")) {
    button.addEventListener("click", () => {
      const t = tableState(name);
      const key = button.dataset.key;
      if (t.sort === key) t.order = t.order === "asc" ? "desc" : "asc";
      else { t.sort = key; t.order = key === "user" || key === "app" || key === "allocation" ? "asc" : "desc"; }
      t.page = 0;
      reloadTable(name);
    });
  }
}

// The API counts denied events per user but not per reason, so the likely reason is read from what explains a
// refusal: the user's cap reached, the pool at its limit, or else an action the allocation does not permit.
function renderDenied(rows, summary) {
  rows = rows.filter((u) => u.deniedEvents > 0);
  const box = $("denied-list");
  if (rows.length === 0) {
    box.replaceChildren(h("p", { class: "na" }, "No denied events in this period."));
    return;
  }
  const poolFull = summary.remainingMinutes === 0;
  const table = h("table", { "data-testid": "denied-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col", class: "num" }, "Denied"),
      h("th", { scope: "col", class: "num" }, "Minutes"), h("th", { scope: "col" }, "Likely reason"))),
    h("tbody", {}, rows.map((u) => {
      const cap = u.capMinutes;
      const why = cap !== undefined && cap !== null && u.minutes >= cap ? `lockout: cap of ${fmt(cap)} min reached`
        : poolFull && (!u.allocation || u.allocation === "capacity") ? "pool exhausted"
        : "action not permitted";
      return h("tr", {}, h("td", {}, u.user), h("td", { class: "num" }, fmt(u.deniedEvents)), h("td", { class: "num" }, fmt(u.minutes)), h("td", {}, why));
    })));
  box.replaceChildren(table);
}

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

// "no-channel": the rule has no channel, so the firing is only recorded here (the demo's rules are such).
function alertStatus(a) {
  return a.status === "no-channel" ? "recorded (no delivery channel)" : `${a.channelKind || ""} ${a.status || ""}`.trim();
}

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

// The prices are the user's, in the currency they name; the API echoes the currency and the page shows it with every amount.
function advisorQuery() {
  const seat = Number($("seat-price").value), pack = Number($("pack-price").value);
  const currency = $("currency").value.trim().toUpperCase();
  return `/api/v1/advice/seats?seatPrice=${encodeURIComponent(seat > 0 ? seat : 40)}&packPrice=${encodeURIComponent(pack > 0 ? pack : 300)}`
    + (currency ? `&currency=${encodeURIComponent(currency)}` : "");
}

function renderAdvice(advice) {
  const box = $("advisor");
  if (advice === null || advice === undefined) {
    box.replaceChildren(h("p", { class: "na" }, "The seat advisor is not available on this server, or the prices are not valid."));
    return;
  }
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

// ---------- start ----------
document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("period").addEventListener("change", (e) => {
    state.period = e.target.value === state.currentPeriod ? null : e.target.value;
    state.units = null;
    refresh(false);
  });
  $("advisor-form").addEventListener("submit", (e) => e.preventDefault());
  $("advisor-form").addEventListener("change", () => {
    $("currency").value = $("currency").value.trim().toUpperCase();
    refresh(false);
  });
  wireTable("users");
  wireTable("apps");
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(() => {
      if (!state.lastRender) return;
      drawCumulative(state.lastRender);
      drawDaily(state.lastRender);
      updateScrollHints();
    }, 150);
  });
  start(false);
});
