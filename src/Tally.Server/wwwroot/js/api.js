// @ts-check
// The read API, with the session cookie and conditional requests: every GET answer of the API carries an ETag; the
// page sends it back in If-None-Match and, on 304 Not Modified, reuses the body it already has, so an unchanged
// resource costs a request without a body.

const UNIT_PAGE = 200; // the largest page Qlik's consumption API serves

export class Unreachable extends Error {}
export class SignedOut extends Error {}
export class NeverSignedIn extends SignedOut {}

/** An answer that is not a success: problem+json on Tally's routes, Qlik's error body on the Qlik-compatible ones. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {unknown} body
   */
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const MAX_CACHED = 100;

/** @type {Map<string, { etag: string, body: unknown }>} the last answer with an ETag, per path, least recently answered first */
const cache = new Map();

/** Forgets every cached answer (at sign-out: the next session starts afresh). */
export function forgetAnswers() {
  cache.clear();
}

/**
 * Fetches JSON from the API with the session cookie. 401 means the session is gone; a network failure means the
 * server cannot be reached; an optional endpoint that does not exist (404, 405) answers null.
 * @param {string} path
 * @param {{ optional?: boolean }} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { optional = false } = {}) {
  const cached = cache.get(path);
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (cached) headers["If-None-Match"] = cached.etag;
  /** @type {Response} */
  let response;
  try {
    // no-store: the browser's own cache stays out of it; the page revalidates itself, so a 304 reaches it as one.
    response = await fetch(path, { credentials: "same-origin", headers, cache: "no-store" });
  } catch (e) {
    throw new Unreachable(String(e));
  }
  if (response.status === 304 && cached) return cached.body;
  if (response.status === 401) throw new SignedOut();
  if (optional && (response.status === 404 || response.status === 405)) return null;
  if (response.status >= 500 && response.status !== 503) throw new Unreachable(`HTTP ${response.status}`);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && (body.detail || body.message || body.title);
    throw new ApiError(message || `HTTP ${response.status}`, response.status, body);
  }
  const etag = response.headers.get("ETag");
  cache.delete(path);
  if (etag) cache.set(path, { etag, body });
  // Paths that name an instant (the running units) or a search are asked once: the oldest answers give way.
  for (const old of cache.keys()) {
    if (cache.size <= MAX_CACHED) break;
    cache.delete(old);
  }
  return body;
}

/**
 * Like api, but any answer other than a lost session or an unreachable server is null (an older server, bad prices).
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function optionalApi(path) {
  try {
    return await api(path, { optional: true });
  } catch (e) {
    if (e instanceof SignedOut || e instanceof Unreachable) throw e;
    return null;
  }
}

/**
 * Reads every page of units matching a filter through the consumption API's cursor links (at most maxPages pages).
 * Returns false when it stopped at maxPages with more to read.
 * @param {string} filter
 * @param {number} maxPages
 * @param {(unit: { id: string, endTime: string, duration: string, userId: string, minutesUsed: number }) => void} onUnit
 */
export async function eachUnit(filter, maxPages, onUnit) {
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

/**
 * A unit's length from its ISO 8601 duration (PT6M, PT1H30M, PT45S), in ms.
 * @param {string | null | undefined} text
 */
export function durationMs(text) {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(text || "");
  return m ? ((Number(m[1] || 0) * 60 + Number(m[2] || 0)) * 60 + Number(m[3] || 0)) * 1000 : 0;
}

/**
 * Exchanges the key for a session cookie. Resolves to the server's answer; rejects with Unreachable.
 * @param {string} key
 */
export async function postSession(key) {
  try {
    return await fetch("/dashboard/session", {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ key }),
    });
  } catch (e) {
    throw new Unreachable(String(e));
  }
}

/** Ends the session on the server; signed out locally anyway when that fails. */
export async function deleteSession() {
  forgetAnswers();
  try { await fetch("/dashboard/session", { method: "DELETE", credentials: "same-origin" }); } catch { /* signed out locally anyway */ }
}
