// @ts-check
// Sortable, searchable, paged tables: the API sorts, searches and pages (sort, order, search, limit, offset).
import { $, h, input } from "./dom.js";
import { fmt, fmtInstant } from "./format.js";
import { state } from "./state.js";

export const PAGE_SIZE = 10;

/** @typedef {Record<string, any>} Row */
/** @typedef {{ key: string, num?: boolean, text?: (r: Row) => string }} Column */
/** @typedef {"users" | "apps"} TableName */

/** @type {Record<TableName, { defaultSort: string, columns: Column[] }>} */
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

/** @param {TableName} name */
function tableState(name) {
  if (!state.tables[name]) state.tables[name] = { sort: TABLES[name].defaultSort, order: "desc", page: 0, query: "" };
  return state.tables[name];
}

/**
 * The path of the table's current page (sort, order, search, page), without the period.
 * @param {TableName} name
 */
export function tableQuery(name) {
  const t = tableState(name);
  const search = t.query ? `&search=${encodeURIComponent(t.query)}` : "";
  return `/api/v1/usage/${name}?sort=${t.sort}&order=${t.order}&limit=${PAGE_SIZE}&offset=${t.page * PAGE_SIZE}${search}`;
}

/**
 * Draws a page of rows, the headers' aria-sort and the pager.
 * @param {TableName} name
 * @param {import("./state.js").TablePage} result
 * @param {(name: TableName) => void} reload what the pager's buttons call
 */
export function renderTable(name, result, reload) {
  const t = tableState(name);
  // A poll sent before a click on a header or the pager answers for the old order or page: drawn, its rows would
  // disagree with the headers. The answer to the click's own request follows.
  if (result.sort !== undefined && (result.sort !== t.sort || result.order !== t.order || result.offset !== t.page * PAGE_SIZE)) return;
  const columns = TABLES[name].columns;
  const rows = /** @type {Row[]} */ (result[name] || []);
  const total = result.total ?? rows.length;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const table = /** @type {HTMLTableElement} */ ($(`${name}-table`));
  const body = table.tBodies[0];
  body.replaceChildren(...rows.map((r) => h("tr", {}, ...columns.map((c) =>
    h("td", { class: c.num ? "num" : null, "data-key": c.key, "data-value": r[c.key] ?? "" }, c.text ? c.text(r) : c.num ? fmt(r[c.key]) : r[c.key])))));
  if (rows.length === 0) {
    body.append(h("tr", {}, h("td", { colspan: columns.length, class: "na" }, t.query ? "No match." : "Nothing in this period yet.")));
  }
  for (const th of /** @type {HTMLTableSectionElement} */ (table.tHead).rows[0].cells) {
    const button = th.querySelector("button");
    if (!button) continue;
    th.setAttribute("aria-sort", button.dataset.key === t.sort ? (t.order === "asc" ? "ascending" : "descending") : "none");
  }
  const pager = $(`${name}-pager`);
  const active = /** @type {HTMLElement | null} */ (document.activeElement);
  const focused = active && pager.contains(active) ? active.dataset.dir : null;
  // The accessible name starts with the visible word ("Prev page of users"): speech users say what they see (WCAG 2.5.3).
  const prev = h("button", { type: "button", "data-dir": "prev", disabled: t.page === 0,
    onclick: () => { t.page = Math.max(0, t.page - 1); reload(name); } },
  h("span", { "aria-hidden": "true" }, "‹ "), "Prev", h("span", { class: "visually-hidden" }, ` page of ${name}`));
  const next = h("button", { type: "button", "data-dir": "next", disabled: t.page >= pages - 1,
    onclick: () => { t.page++; reload(name); } },
  "Next", h("span", { class: "visually-hidden" }, ` page of ${name}`), h("span", { "aria-hidden": "true" }, " ›"));
  pager.replaceChildren(prev, h("span", {}, `Page ${Math.min(t.page + 1, pages)} of ${pages} · ${fmt(total)} ${name}`), next);
  if (focused) {
    const buttons = /** @type {HTMLButtonElement[]} */ ([prev, next]);
    const again = buttons.find((b) => b.dataset.dir === focused && !b.disabled) || buttons.find((b) => !b.disabled);
    if (again) again.focus();
  }
}

/**
 * Search box and sort headers. The handlers look the table's state up when they run: signing out starts every table afresh.
 * @param {TableName} name
 * @param {(name: TableName) => void} reload
 */
export function wireTable(name, reload) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let debounce;
  input(`${name}-search`).addEventListener("input", (e) => {
    const t = tableState(name);
    t.query = /** @type {HTMLInputElement} */ (e.target).value.trim();
    t.page = 0;
    clearTimeout(debounce);
    debounce = setTimeout(() => reload(name), 200);
  });
  for (const button of /** @type {HTMLTableSectionElement} */ (/** @type {HTMLTableElement} */ ($(`${name}-table`)).tHead).querySelectorAll("button")) {
    button.addEventListener("click", () => {
      const t = tableState(name);
      const key = button.dataset.key || "";
      if (t.sort === key) t.order = t.order === "asc" ? "desc" : "asc";
      else { t.sort = key; t.order = key === "user" || key === "app" || key === "allocation" ? "asc" : "desc"; }
      t.page = 0;
      reload(name);
    });
  }
}

/** What each reason the ledger records means on the page. */
const REASONS = /** @type {Record<string, string>} */ ({
  "user-cap-reached": "lockout: cap reached",
  "pool-exhausted": "pool exhausted",
  "not-permitted": "action not permitted",
  "not-licensed": "not licensed",
  "license-expired": "license expired",
});

/**
 * The users refused most in the period, with the reasons the ledger recorded for their refusals, most frequent first.
 * @param {import("./state.js").Denials | null} denials
 */
export function renderDenied(denials) {
  const rows = denials ? denials.users.filter((u) => u.deniedEvents > 0) : [];
  const box = $("denied-list");
  if (rows.length === 0) {
    box.replaceChildren(h("p", { class: "na" }, denials ? "No denied events in this period." : "Denials per reason are not available on this server."));
    return;
  }
  const table = h("table", { "data-testid": "denied-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col", class: "num" }, "Denied"), h("th", { scope: "col" }, "Reasons"))),
    h("tbody", {}, rows.map((u) => {
      const reasons = Object.entries(u.reasons).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([reason, n]) => `${REASONS[reason] || reason} × ${fmt(n)}`).join(", ");
      return h("tr", {}, h("td", {}, u.user), h("td", { class: "num", "data-value": u.deniedEvents }, fmt(u.deniedEvents)), h("td", { "data-key": "reasons" }, reasons));
    })));
  box.replaceChildren(table);
}
