// @ts-check
// Tally dashboard: plain JavaScript modules, no framework, no build step, no third-party code. It signs in once (the
// server sets an HttpOnly session cookie), then polls: every 2.5 s only the tenant's ledger version (a 304 while
// nothing changed), and everything else when that version moves, when the user asks (period, prices), and once a
// minute for what changes with time alone (active users, run-rate, forecast). Every figure is shown as the API
// returns it; the browser's own clock is never used for figures: "now" comes from the server.
import { api, deleteSession, durationMs, eachUnit, NeverSignedIn, optionalApi, postSession, SignedOut, Unreachable } from "./api.js";
import { $, input } from "./dom.js";
import { fmtTime, setTimeZone } from "./format.js";
import { advisorQuery, buildPeriodPicker, clearDashboard, redraw, render, updateScrollHints } from "./panels.js";
import { state } from "./state.js";
import { PAGE_SIZE, renderTable, tableQuery, wireTable } from "./tables.js";

const POLL_MS = 2500;
const SLOW_MS = 60000;
const MAX_UNIT_PAGES = 125;
const WASTE_ROWS = 5;
const ENDED = "Your session ended (signed out, expired, the key was revoked, or the server restarted). Sign in again.";

/** @param {string | null} text */
function showBanner(text) {
  const b = $("banner");
  if (text) { b.textContent = text; b.hidden = false; } else { b.hidden = true; b.textContent = ""; }
}

/**
 * @param {boolean} ok
 * @param {string} text
 */
function setLive(ok, text) {
  const live = $("live");
  live.className = "live " + (ok ? "ok" : "down");
  live.textContent = text;
}

// ---------- sign-in ----------
/**
 * Back to the sign-in form: polling stops, and nothing of the last session stays on the page (figures, tables,
 * header). `note` is neutral news ("Signed out."), never styled as an error.
 * @param {string} [note]
 */
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

/** @param {SubmitEvent} event */
async function signIn(event) {
  event.preventDefault();
  const key = input("key").value.trim();
  const error = $("signin-error");
  if (!key) { error.textContent = "Enter an API key."; $("key").focus(); return; }
  const button = /** @type {HTMLButtonElement} */ ($("signin-button"));
  button.disabled = true;
  error.textContent = "";
  $("signin-note").textContent = "";
  try {
    /** @type {Response} */
    let response;
    try {
      response = await postSession(key);
    } catch {
      error.textContent = "Cannot reach the Tally server. Check that it is running and try again.";
      return;
    }
    if (response.ok) {
      input("key").value = "";
      showBanner(null);
      await start(true);
      return;
    }
    const body = await response.json().catch(() => null);
    error.textContent = response.status === 401 ? "That key was refused: it is unknown or revoked."
      : response.status === 403 ? (body && body.detail) || "This key cannot open the dashboard; use a read or admin key."
      : (body && body.detail) || `Sign-in failed (HTTP ${response.status}).`;
    input("key").select();
  } finally {
    button.disabled = false;
  }
}

/** Polling stops and the read under way finishes before the session ends, so no request meets a dead session. */
async function signOut() {
  stopPolling();
  if (state.inflight) await state.inflight.catch(() => {});
  await deleteSession();
  showSignIn("Signed out.");
}

/**
 * The session probe answers 200 either way ({signedIn}); a 401 means a session this browser had has ended.
 * @returns {Promise<import("./state.js").Session>}
 */
async function currentSession() {
  const session = await api("/dashboard/session");
  if (!session || !session.signedIn) throw new NeverSignedIn();
  return session;
}

/**
 * Opens the dashboard for the session the cookie holds, or the sign-in form.
 * @param {boolean} fromSignIn focus moves to the dashboard's heading, since the form that had it disappears
 * @returns {Promise<void>}
 */
async function start(fromSignIn) {
  /** @type {import("./state.js").Session} */
  let session;
  try {
    session = await currentSession();
  } catch (e) {
    if (e instanceof SignedOut) {
      showSignIn(e instanceof NeverSignedIn ? "" : ENDED);
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
/**
 * One refresh at a time; one asked for meanwhile runs right after, unless polling stopped. `force`: read everything
 * even if the ledger did not change (first load, a new period, new prices).
 * @param {boolean} force
 * @returns {Promise<void>}
 */
function refresh(force) {
  if (state.inflight) {
    state.again = true;
    state.againForced ||= force;
    return state.inflight;
  }
  state.inflight = (async () => {
    let forced = force;
    let first = force && state.currentPeriod === null;
    do {
      state.again = false;
      await load(forced, first);
      forced = state.againForced;
      state.againForced = false;
      first = false;
    } while (state.again && state.timer !== null);
  })().finally(() => { state.inflight = null; });
  return state.inflight;
}

/** @returns {string} the period query parameter, "&period=…", or "" for the current period */
const periodParam = () => state.period ? `&period=${encodeURIComponent(state.period)}` : "";

/**
 * A poll. The ledger's version stamp is read first (a 304 while nothing was recorded); when it is the one of the last
 * full read, nothing is forced and the slow interval has not passed, the poll ends there.
 * @param {boolean} force
 * @param {boolean} first
 */
async function load(force, first) {
  try {
    const version = await optionalApi("/api/v1/usage/version");
    const stamp = version ? JSON.stringify(version) : null;
    const slow = performance.now() - state.slowReadAt >= SLOW_MS;
    if (!force && !slow && stamp !== null && stamp === state.version) {
      showBanner(null);
      setLive(true, `Live · updated ${fmtTime(/** @type {string} */ (state.lastRender ? state.lastRender.now : state.session?.now))}`);
      return;
    }
    await readAll(first);
    state.version = stamp;
    if (slow) state.slowReadAt = performance.now();
  } catch (e) {
    if (e instanceof SignedOut) {
      showSignIn(ENDED);
    } else if (e instanceof Unreachable) {
      showBanner("Cannot reach the Tally server. Retrying every few seconds; the figures below may be out of date.");
      setLive(false, "Offline");
    } else {
      showBanner(`The server answered with an error: ${e instanceof Error ? e.message : String(e)}`);
      setLive(false, "Error");
    }
  }
}

/**
 * Reads every panel's resource (each a conditional request) and draws them.
 * @param {boolean} first
 */
async function readAll(first) {
  const session = await currentSession();
  state.session = session;
  const now = /** @type {string} */ (session.now);
  const q = state.period ? `?period=${encodeURIComponent(state.period)}` : "";
  const amp = periodParam();
  const [summary, users, apps, license, overview, denials, daily, hourly, active, alerts, advice, sources, waste] = await Promise.all([
    api("/api/v1/usage/summary" + q),
    api(tableQuery("users") + amp),
    api(tableQuery("apps") + amp),
    optionalApi("/api/v1/license"),
    optionalApi("/api/v1/licenses/overview"), // 404 without a license
    optionalApi(`/api/v1/usage/denials?limit=${PAGE_SIZE}${amp}`),
    optionalApi("/api/v1/usage/timeline?granularity=day" + amp),
    optionalApi("/api/v1/usage/timeline?granularity=hour" + amp),
    activeUsers(now),
    optionalApi("/api/v1/alerts/history?limit=20"),
    optionalApi(advisorQuery() + amp),
    optionalApi("/api/v1/sources"),
    optionalApi(`/api/v1/usage/waste?limit=${WASTE_ROWS}${amp}`), // 409 for a tenant observing another service: null
  ]);
  if (!state.currentPeriod || first) {
    const current = overview ? overview.period.id : null;
    state.currentPeriod = state.period ? state.currentPeriod || current || summary.period : summary.period;
    buildPeriodPicker();
  }
  setTimeZone(license && license.timeZone);
  render({ summary, users, apps, license, overview, denials, daily, hourly, active, alerts, advice, sources, waste, now }, reloadTable);
  showBanner(null);
  setLive(true, `Live · updated ${fmtTime(now)}`);
}

/**
 * Users with a unit running at the server's `now`.
 * @param {string} nowIso
 */
async function activeUsers(nowIso) {
  const now = Date.parse(nowIso);
  const users = new Set();
  await eachUnit(`endTime gt "${nowIso}"`, MAX_UNIT_PAGES, (r) => {
    if (Date.parse(r.endTime) - durationMs(r.duration) <= now) users.add(r.userId);
  });
  return users.size;
}

/**
 * A table's new page, sort or search, read at once.
 * @param {"users" | "apps"} name
 */
async function reloadTable(name) {
  try {
    renderTable(name, await api(tableQuery(name) + periodParam()), reloadTable);
    updateScrollHints();
  } catch (e) {
    if (e instanceof SignedOut) showSignIn("Your session ended. Sign in again.");
  }
}

// ---------- start ----------
/** Wires the page's controls and opens it: module scripts run once the document is parsed. */
function main() {
  /** @type {HTMLFormElement} */ ($("signin-form")).addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("period").addEventListener("change", (e) => {
    const value = /** @type {HTMLSelectElement} */ (e.target).value;
    state.period = value === state.currentPeriod ? null : value;
    refresh(true);
  });
  $("advisor-form").addEventListener("submit", (e) => e.preventDefault());
  $("advisor-form").addEventListener("change", () => {
    input("currency").value = input("currency").value.trim().toUpperCase();
    refresh(true);
  });
  wireTable("users", reloadTable);
  wireTable("apps", reloadTable);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let resize;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(redraw, 150);
  });
  start(false);
}

main();
