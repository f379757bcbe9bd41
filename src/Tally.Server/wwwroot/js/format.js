// @ts-check
// Numbers, instants and calendar arithmetic as the page shows them. Instants are shown in the license's time zone
// (setTimeZone), never the browser's.

const DAY_MS = 86400000;
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

let zone = "UTC";

/** @param {string | null | undefined} timeZone the license's IANA zone; UTC without a license */
export function setTimeZone(timeZone) {
  zone = timeZone || "UTC";
}

export const timeZone = () => zone;

/**
 * An integer figure grouped in thousands ("7,284"); "–" for none.
 * @param {number | null | undefined} n
 */
export const fmt = (n) => (n === null || n === undefined || Number.isNaN(n)) ? "–" : Math.round(Number(n)).toLocaleString("en-US");

/**
 * @param {Intl.DateTimeFormatOptions} options
 * @param {string} iso
 */
const format = (options, iso) => new Intl.DateTimeFormat("en-GB", { timeZone: zone, ...options }).format(new Date(iso));

/**
 * "24 Mar, 14:30 UTC" (with the year when asked).
 * @param {string | null | undefined} iso
 * @param {boolean} [withYear]
 */
export function fmtInstant(iso, withYear) {
  if (!iso) return "–";
  try {
    return format({ day: "numeric", month: "short", year: withYear ? "numeric" : undefined, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }, iso)
      + (zone === "UTC" ? " UTC" : "");
  } catch {
    return new Date(iso).toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }
}

/**
 * A date alone ("1 Feb 2026") in the license's time zone.
 * @param {string | null | undefined} iso
 */
export function fmtDate(iso) {
  if (!iso) return "–";
  try {
    return format({ day: "numeric", month: "short", year: "numeric" }, iso);
  } catch {
    return new Date(iso).toISOString().slice(0, 10);
  }
}

/**
 * Day, month and time without the zone ("27 Mar 10:00"): short enough for a card on a phone.
 * @param {string | null | undefined} iso
 */
export function fmtShort(iso) {
  if (!iso) return "–";
  try {
    return format({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }, iso).replace(",", "");
  } catch {
    return new Date(iso).toISOString().replace("T", " ").slice(5, 16);
  }
}

/** @param {string} iso */
export function fmtTime(iso) {
  try {
    return format({ hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }, iso);
  } catch {
    return new Date(iso).toISOString().slice(11, 19);
  }
}

/** @param {string} id a period, YYYY-MM */
const yearMonth = (id) => id.split("-").map(Number);

/** @param {string} id a period, YYYY-MM: "March 2026" */
export function periodLabel(id) {
  const [y, m] = yearMonth(id);
  return `${MONTHS[m - 1]} ${y}`;
}

/**
 * Days in a calendar month: the same in every time zone.
 * @param {string} id
 */
export function daysIn(id) {
  const [y, m] = yearMonth(id);
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/**
 * The period `delta` months from `id`.
 * @param {string} id
 * @param {number} delta
 */
export function shiftPeriod(id, delta) {
  let [y, m] = yearMonth(id);
  m += delta;
  while (m < 1) { m += 12; y -= 1; }
  while (m > 12) { m -= 12; y += 1; }
  return `${y}-${String(m).padStart(2, "0")}`;
}

/**
 * The license's time zone's offset from UTC at an instant, in ms, from the local wall time Intl reports.
 * @param {number} t
 */
function zoneOffset(t) {
  try {
    const parts = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric",
      day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }).formatToParts(new Date(t));
    /** @param {string} type */
    const get = (type) => Number(parts.find((p) => p.type === type)?.value);
    return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second")) - Math.floor(t / 1000) * 1000;
  } catch {
    return 0;
  }
}

/**
 * Where local day `d` (0 = the 1st) of a period starting at t0 begins: d days on, corrected when the offset changed
 * since the 1st (daylight saving), so the day ticks sit on local midnights.
 * @param {number} t0
 * @param {number} d
 */
export function localDayStart(t0, d) {
  const t = t0 + d * DAY_MS;
  return t - (zoneOffset(t) - zoneOffset(t0));
}

/**
 * The days (1-based) to label on a month's axis: every `step`th from the 1st, and always the month's last day; a
 * regular label too close to the last one gives way to it.
 * @param {number} days
 * @param {number} step
 */
export function dayLabels(days, step) {
  const labels = [];
  for (let day = 1; day < days; day += step) if (days - day >= step / 2) labels.push(day);
  labels.push(days);
  return labels;
}

/**
 * Whole-unit ticks for a count axis: 0 alone when there is nothing, else 0 up to a round top in two to four round steps.
 * @param {number} max
 * @returns {{ top: number, ticks: number[] }}
 */
export function countTicks(max) {
  if (max <= 0) return { top: 1, ticks: [0] };
  const step = niceStep(Math.max(1, max / 3));
  const top = step * Math.ceil(max / step);
  const ticks = [];
  for (let v = 0; v <= top; v += step) ticks.push(v);
  return { top, ticks };
}

/**
 * The smallest of 1, 2, 5, 10, 20, 50… that is at least v.
 * @param {number} v
 * @returns {number}
 */
function niceStep(v) {
  for (let p = 1; ; p *= 10) {
    for (const m of [1, 2, 5]) if (m * p >= v) return m * p;
  }
}

/**
 * A round tick for a minutes axis: 1, 2, 2.5 or 5 times a power of ten, at least v.
 * @param {number} v
 */
export function niceMax(v) {
  if (v <= 0) return 10;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
