// Qlik's own JavaScript client (@qlik/api, module "licenses") against a real `tally serve`: the contract is
// Tally's Qlik-compatible licenses API (docs/api.md), exercised only through the client's functions.
// Every answer the client hands back is validated against the JSON Schema of its type, generated from the
// client's licenses.d.ts (schemas.mjs). Tally's own API (plain fetch, harness.mjs) only sets data up and
// cross-checks what the client reports.
import { after, before, describe, it as nodeIt } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import qlikLicenses from "@qlik/api/licenses";
import { generateSchemas, compileSchemas } from "./schemas.mjs";
import { startTally, isoSeconds } from "./harness.mjs";

/** Every test is bounded: a server that stops answering fails the test instead of hanging the run. */
function it(name, options, fn) {
  return fn ? nodeIt(name, { timeout: 60_000, ...options }, fn) : nodeIt(name, { timeout: 60_000 }, options);
}

const DAY = 86_400_000;
const PRODUCT = "Tally analyzer capacity";

/**
 * The client's functions, each called as is; when one rejects with an HTTP error, the answer's body is added to
 * the message (the client's own message names only the status). Paging functions on answers get the same.
 */
const licenses = Object.fromEntries(Object.entries(qlikLicenses).map(([name, fn]) => [name, (...args) => {
  const result = fn(...args);
  return result instanceof Promise ? explained(result) : result;
}]));

function explained(promise) {
  return promise.then((answer) => {
    for (const key of ["next", "prev"]) {
      const page = answer?.[key];
      if (typeof page === "function") answer[key] = (options) => explained(page(options));
    }
    return answer;
  }, (err) => {
    if (err && err.status !== undefined && !err.explained) {
      err.explained = true;
      err.message += ` Body: ${typeof err.data === "string" ? err.data : JSON.stringify(err.data)}`.slice(0, 1200);
    }
    throw err;
  });
}

/** @type {import("./harness.mjs").TallyServer} */
let tally;
let schemas;
let license; // the main license: L-ACME, 600 included minutes, 60 overage, 2 professional, 1 analyzer
const tenants = {};
const acme = { sessions: new Map(), apps: new Map(), installedAt: [0, 0] };

/** Options for one client call: this key's host config, never the client's response cache. */
function as(key) {
  return { hostConfig: tally.hostConfig(key), noCache: true };
}

const reportedExtras = new Set();
/** Validates against the client's type; fields beyond the type are reported once as a diagnostic. */
function valid(t, type, data, what) {
  schemas.validate(type, data, what);
  const extras = schemas.extraFields(type, data).filter((p) => !reportedExtras.has(`${type}${p}`));
  if (extras.length > 0) {
    extras.forEach((p) => reportedExtras.add(`${type}${p}`));
    t.diagnostic(`${type}: fields the client's type does not declare: ${extras.join(", ")}`);
  }
  return data;
}

/** Awaits a client call that must fail; checks status, the ErrorResponse body and its code. */
async function fails(t, call, status, code, what) {
  let answer;
  try {
    answer = await call;
  } catch (err) {
    assert.equal(err.status, status,
      `${what}: expected HTTP ${status} ${code}, got ${err.status ?? "no status"}: ${err.message}`);
    valid(t, "ErrorResponse", err.data, `${what}: error body`);
    const codes = err.data.errors.map((e) => e.code);
    assert.ok(codes.includes(code), `${what}: expected code ${code}, got ${JSON.stringify(err.data.errors)}`);
    const contentType = err.headers?.get?.("content-type") ?? "";
    assert.match(contentType, /^application\/json\b/, `${what}: error Content-Type`);
    return err.data;
  }
  assert.fail(`${what}: expected HTTP ${status} ${code}, the call succeeded with ${answer.status}: ${
    JSON.stringify(answer.data)?.slice(0, 600)}`);
}

/** An ISO instant as a BigInt of nanoseconds since the epoch (keeps Tally's sub-millisecond digits). */
function instant(text) {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text ?? "");
  assert.ok(m, `not an ISO instant with offset: ${JSON.stringify(text)}`);
  const ms = Date.parse(`${m[1]}${m[3]}`);
  assert.ok(Number.isFinite(ms), `not an instant: ${text}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** Follows next() from a first page until there is none; answers the page responses. */
async function forward(t, type, first, bound = 400) {
  const pages = [valid(t, type, first.data, "page 1") && first];
  let page = first;
  while (page.next) {
    assert.ok(pages.length < bound, `more than ${bound} pages: the traversal does not end`);
    page = await page.next();
    valid(t, type, page.data, `page ${pages.length + 1}`);
    pages.push(page);
  }
  return pages;
}

async function backward(t, type, last, bound = 400) {
  const pages = [last];
  let page = last;
  while (page.prev) {
    assert.ok(pages.length < bound, `more than ${bound} pages going back: the traversal does not end`);
    page = await page.prev();
    valid(t, type, page.data, `page ${pages.length + 1} going back`);
    pages.push(page);
  }
  return pages;
}

const ids = (pages) => pages.map((p) => p.data.data.map((r) => r.id));

async function allConsumption(t, key, query = {}) {
  const pages = await forward(t, "ConsumptionEventsResponse", await licenses.getLicenseConsumption({ limit: 7, ...query }, as(key)));
  return pages.flatMap((p) => p.data.data);
}

/** professional/analyzer rows of Tally's allocation plan, as subject -> type. */
async function seatsInTally(tenant) {
  const plan = await tally.allocations(tenant);
  return Object.fromEntries(plan.users
    .filter((u) => u.allocation === "professional" || u.allocation === "analyzer")
    .map((u) => [u.user, u.allocation]));
}

async function seatsInClient(t, tenant, query = {}) {
  const pages = await forward(t, "AssignmentsResponse", await licenses.getLicenseAssignments({ limit: 100, ...query }, as(tenant.read)));
  return pages.flatMap((p) => p.data.data);
}

const asMap = (records) => Object.fromEntries(records.map((r) => [r.subject, r.type]));
const sorted = (o) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));

before(async () => {
  const starting = startTally();
  starting.catch(() => {});
  schemas = compileSchemas(generateSchemas());
  tally = await starting;

  const now = Date.now();
  license = await tally.issueLicense({ name: "acme", validFrom: isoSeconds(now - DAY), validTo: isoSeconds(now + 365 * DAY) });
  for (const id of ["acme", "settings", "seats", "bare"]) {
    tenants[id] = await tally.tenant(id);
  }
  acme.installedAt[0] = Date.now();
  await tally.installLicense(tenants.acme, license);
  acme.installedAt[1] = Date.now();
  // One license serves one tenant: the others get their own issues of the same terms.
  for (const id of ["settings", "seats"]) {
    const own = await tally.issueLicense({ name: id, licenseId: `L-${id.toUpperCase()}`, validFrom: license.validFrom, validTo: license.validTo });
    await tally.installLicense(tenants[id], own);
  }

  // acme: two Professional seats and the Analyzer seat held, 40 capacity users over five apps, sent in four
  // requests so that units end at four different instants (the filters need more than one).
  const a = tenants.acme;
  for (const [user, allocation] of [["pro1", "professional"], ["pro2", "professional"], ["ana1", "analyzer"]]) {
    await tally.api("PUT", `/api/v1/users/${user}`, a.admin, { allocation }, 200);
  }
  const appsList = ["sales", "hr", "finance", "ops", "logistics"];
  const users = [...Array.from({ length: 40 }, (_, i) => `cap${String(i + 1).padStart(2, "0")}`), "pro1", "pro2", "ana1"];
  const events = users.map((user, i) => {
    const device = i % 3 === 0 ? undefined : (i % 2 === 0 ? "laptop" : "phone");
    const app = appsList[i % appsList.length];
    acme.sessions.set(user, device ? `${user}/${device}` : user);
    acme.apps.set(user, app);
    return { user, app, ...(device ? { device } : {}), action: "open-app" };
  });
  // every fourth user also opens a second app inside the same unit
  const seconds = events.filter((_, i) => i % 4 === 0).map((e) => ({ ...e, app: "board" }));
  const all = [...events, ...seconds];
  for (let part = 0; part < 4; part++) {
    await tally.sendEvents(a, all.filter((_, i) => i % 4 === part));
    await new Promise((ok) => setTimeout(ok, 5));
  }
}, { timeout: 120_000 });

after(async () => {
  await tally?.stop();
});

describe("(a) overview of a licensed tenant", () => {
  it("matches the license, Tally's usage summary and the seats held", async (t) => {
    const a = tenants.acme;
    const seats = await seatsInTally(a);
    const { data: o, status } = await licenses.getLicenseOverview(as(a.admin));
    assert.equal(status, 200);
    valid(t, "LicenseOverview", o, "overview");
    // The summary of the very period the overview describes, even if a month ends between the two calls.
    const summary = await tally.summary(a, o.period.id);

    assert.equal(o.licenseNumber, "L-ACME");
    assert.equal(o.status, "Ok");
    assert.equal(o.origin, "External");
    assert.equal(o.product, PRODUCT);
    assert.equal(o.trial, false);
    assert.equal(o.secondaryNumber, "");
    assert.equal(o.customerId, "Acme");
    assert.equal(o.licenseKey, license.key, "licenseKey for an admin key is the installed key");
    assert.equal(o.version, createHash("sha256").update(license.key).digest("hex"), "version = SHA-256 hex of the key");

    const [from, to, ...rest] = o.valid.split("/");
    assert.equal(rest.length, 0, `valid is one interval "start/end": ${o.valid}`);
    assert.equal(Date.parse(from), Date.parse(license.validFrom), `valid start: ${o.valid}`);
    assert.equal(Date.parse(to), Date.parse(license.validTo), `valid end: ${o.valid}`);
    assert.equal(Date.parse(o.latestValidTime), Date.parse(license.validTo), "latestValidTime = validTo");
    const updated = Date.parse(o.updated);
    assert.ok(updated >= acme.installedAt[0] - 1000 && updated <= acme.installedAt[1] + 1000,
      `updated ${o.updated} is the install time`);
    assert.equal(Date.parse(o.changeTime), updated, "changeTime = updated");

    const param = o.parameters.find((p) => p.name === "analyzerCapacity");
    assert.ok(param, `parameters has analyzerCapacity: ${JSON.stringify(o.parameters)}`);
    assert.equal(param.valid, o.valid);
    assert.equal(typeof param.values, "object");

    const byName = Object.fromEntries(o.allotments.map((x) => [x.name, x]));
    assert.deepEqual(Object.keys(byName).sort(), ["analyzer", "analyzer_time", "professional"]);
    assert.equal(o.allotments.length, 3);
    const time = byName.analyzer_time;
    assert.equal(time.usageClass, "time");
    assert.equal(summary.includedMinutes, 600, "1 pack of 600 minutes");
    assert.equal(time.units, summary.includedMinutes, "analyzer_time units = included minutes");
    assert.equal(time.unitsUsed, summary.consumedMinutes, "analyzer_time unitsUsed = consumed minutes");
    assert.ok(summary.consumedMinutes >= 40 * 6, `40 capacity users consumed ${summary.consumedMinutes}`);
    assert.equal(time.overage, 60, "capped overage in minutes");
    const held = (type) => Object.values(seats).filter((s) => s === type).length;
    assert.equal(held("professional"), 2);
    assert.deepEqual([byName.professional.usageClass, byName.professional.units, byName.professional.unitsUsed],
      ["assigned", 2, held("professional")]);
    assert.deepEqual([byName.analyzer.usageClass, byName.analyzer.units, byName.analyzer.unitsUsed],
      ["assigned", 1, held("analyzer")]);

    assert.deepEqual(o.period && { id: o.period.id, start: Date.parse(o.period.start), end: Date.parse(o.period.end) },
      { id: summary.period, start: Date.parse(summary.start), end: Date.parse(summary.end) }, "period (Tally's extra field)");
  });

  it("hides the license key from a read key", async (t) => {
    const { data: o } = await licenses.getLicenseOverview(as(tenants.acme.read));
    valid(t, "LicenseOverview", o, "overview (read key)");
    assert.equal(o.licenseKey, "");
    assert.equal(o.licenseNumber, "L-ACME");
    assert.equal(o.version, createHash("sha256").update(license.key).digest("hex"));
  });
});

describe("(b) status", () => {
  it("is Ok for a valid license, for read and admin keys", async (t) => {
    for (const key of [tenants.acme.read, tenants.acme.admin]) {
      const { data: s, status } = await licenses.getLicenseStatus(as(key));
      assert.equal(status, 200);
      valid(t, "LicenseStatus", s, "status");
      assert.deepEqual(
        { ...s, valid: s.valid.split("/").map(Date.parse) },
        { deactivated: false, extensionStatus: "Unavailable", origin: "External", product: PRODUCT, status: "Ok",
          trial: false, type: "Signed", valid: [Date.parse(license.validFrom), Date.parse(license.validTo)] });
    }
  });
});

describe("(c) settings", () => {
  it("reads and changes the auto-assign switches of Tally's allocation plan", async (t) => {
    const s = tenants.settings;
    const plan = await tally.allocations(s);
    const { data: before } = await licenses.getLicenseSettings(as(s.read));
    valid(t, "SettingsBody", before, "settings");
    assert.deepEqual(before, { autoAssignProfessional: plan.autoAssignProfessional, autoAssignAnalyzer: plan.autoAssignAnalyzer });
    assert.equal(before.autoAssignProfessional, false);

    const { data: changed, status } = await licenses.updateLicenseSettings({ autoAssignProfessional: true }, as(s.admin));
    assert.equal(status, 200);
    valid(t, "SettingsBody", changed, "PUT settings answer");
    assert.deepEqual(changed, { autoAssignProfessional: true, autoAssignAnalyzer: before.autoAssignAnalyzer },
      "both switches after the change; the absent one unchanged");

    const { data: again } = await licenses.getLicenseSettings(as(s.read));
    valid(t, "SettingsBody", again, "settings after PUT");
    assert.deepEqual(again, changed);
    const planAfter = await tally.allocations(s);
    assert.equal(planAfter.autoAssignProfessional, true, "GET /api/v1/allocations shows the switch");
    assert.equal(planAfter.autoAssignAnalyzer, before.autoAssignAnalyzer);

    const { data: both } = await licenses.updateLicenseSettings({ autoAssignProfessional: false, autoAssignAnalyzer: true }, as(s.admin));
    assert.deepEqual(both, { autoAssignProfessional: false, autoAssignAnalyzer: true });
    const planBoth = await tally.allocations(s);
    assert.deepEqual([planBoth.autoAssignProfessional, planBoth.autoAssignAnalyzer], [false, true]);
  });

  it("shows seats the meter auto-assigns as assignments", async (t) => {
    const s = tenants.settings;
    await licenses.updateLicenseSettings({ autoAssignAnalyzer: true }, as(s.admin));
    await tally.sendEvents(s, [{ user: "walker", device: "tablet", app: "sales", action: "open-app" }]);
    const listed = await seatsInClient(t, s);
    assert.deepEqual(listed.map((a) => [a.subject, a.type, a.excess]), [["walker", "analyzer", false]], "auto-assigned Analyzer seat");
    const { data: o } = await licenses.getLicenseOverview(as(s.read));
    valid(t, "LicenseOverview", o, "overview");
    assert.equal(o.allotments.find((a) => a.name === "analyzer").unitsUsed, 1);
    const { data: c } = await licenses.getLicenseConsumption({}, as(s.read));
    valid(t, "ConsumptionEventsResponse", c, "consumption");
    assert.deepEqual(c.data.map((r) => [r.userId, r.sessionId, r.allotmentId, r.licenseUsage, r.minutesUsed, r.capacityUsed]),
      [["walker", "walker/tablet", "analyzer", "assigned", 0, 0]]);
    const orphans = await seatsInClient(t, s, { orphans: true });
    assert.deepEqual(orphans, [], "walker has been seen in an event");
  });

  it("refuses a non-boolean switch with LICENSES-906 and changes nothing", async (t) => {
    const s = tenants.settings;
    const { data: before } = await licenses.getLicenseSettings(as(s.read));
    await fails(t, licenses.updateLicenseSettings({ autoAssignProfessional: "yes" }, as(s.admin)), 400, "LICENSES-906", "PUT settings with a string");
    const { data: afterwards } = await licenses.getLicenseSettings(as(s.read));
    assert.deepEqual(afterwards, before);
  });
});

describe("(d) consumption", () => {
  let fullCache;
  /** Every record in default order, in one page of 200 (the setup makes fewer): read before any change. */
  async function full(t) {
    if (!fullCache) {
      const { data } = await licenses.getLicenseConsumption({ limit: 200 }, as(tenants.acme.read));
      valid(t, "ConsumptionEventsResponse", data, "consumption, limit 200");
      assert.equal(data.links.next, undefined, "fewer than 200 records: one page");
      fullCache = data.data;
    }
    return fullCache;
  }

  it("has one record per unit, with the user, session, app and allotment Tally metered", async (t) => {
    const a = tenants.acme;
    const records = await full(t);
    assert.equal(new Set(records.map((r) => r.id)).size, records.length, "no record repeats");
    // The count is the number of units: pool units (summary.units) plus the seat holders' units, which
    // /api/v1/usage/users counts too ("seat holders' units count with 0 minutes").
    const summary = await tally.summary(a);
    const users = await tally.usageUsers(a);
    assert.equal(records.length, users.reduce((n, u) => n + u.units, 0), "one record per unit (/api/v1/usage/users)");
    const pool = records.filter((r) => r.licenseUsage === "time");
    assert.equal(pool.length, summary.units, "records drawing on the pool = summary units");
    assert.equal(pool.reduce((n, r) => n + r.minutesUsed, 0), summary.consumedMinutes, "minutesUsed adds up to consumed minutes");
    assert.equal(records.length, acme.sessions.size, "one unit per user here (each used one device)");

    const seats = await seatsInTally(a);
    for (const r of records) {
      assert.equal(typeof r.id, "string");
      assert.equal(r.sessionId, acme.sessions.get(r.userId), `sessionId of ${r.userId}`);
      assert.equal(r.appId, acme.apps.get(r.userId), `appId of ${r.userId}: the app that started the unit`);
      assert.equal(r.duration, "PT6M");
      instant(r.endTime);
      const seat = seats[r.userId];
      assert.deepEqual([r.licenseUsage, r.allotmentId, r.minutesUsed, r.capacityUsed],
        seat ? ["assigned", seat, 0, 0] : ["time", "analyzer_time", 6, 1], `record of ${r.userId}`);
    }
    const ascending = records.every((r, i) => i === 0 || instant(records[i - 1].endTime) <= instant(r.endTime));
    assert.ok(ascending, "default order is ascending endTime");
  });

  it("pages forward with next() and back with prev() over every record exactly once", async (t) => {
    const records = await full(t);
    const first = await licenses.getLicenseConsumption({ limit: 7 }, as(tenants.acme.read));
    assert.equal(first.status, 200);
    assert.equal(first.data.links.prev, undefined, "the first page has no prev");
    assert.ok(first.data.links.next?.href?.startsWith(`${tally.base}/api/v1/licenses/consumption?`),
      `next href is absolute: ${first.data.links.next?.href}`);
    const pages = await forward(t, "ConsumptionEventsResponse", first);
    assert.equal(pages.at(-1).data.links.next, undefined);
    assert.equal(pages.length, Math.ceil(records.length / 7), "pages of 7");
    pages.forEach((p, i) => assert.equal(p.data.data.length, i < pages.length - 1 ? 7 : records.length - 7 * i, `page ${i + 1} size`));
    assert.deepEqual(pages.flatMap((p) => p.data.data.map((r) => r.id)), records.map((r) => r.id),
      "the pages hold every record once, in order");

    const back = await backward(t, "ConsumptionEventsResponse", pages.at(-1));
    assert.equal(back.at(-1).data.links.prev, undefined, "back at the first page: no prev");
    assert.deepEqual(ids(back).reverse(), ids(pages), "the pages going back are the pages going forward, reversed");
  });

  it("sorts by -endTime (non-increasing) and +endTime, also across pages", async (t) => {
    const records = await full(t);
    const { data } = await licenses.getLicenseConsumption({ limit: 200, sort: "-endTime" }, as(tenants.acme.read));
    valid(t, "ConsumptionEventsResponse", data, "sort -endTime");
    const down = data.data;
    for (let i = 1; i < down.length; i++) {
      assert.ok(instant(down[i - 1].endTime) >= instant(down[i].endTime), `-endTime at ${i}: ${down[i - 1].endTime} then ${down[i].endTime}`);
    }
    assert.deepEqual(down.map((r) => r.id).sort(), records.map((r) => r.id).sort(), "the same records");
    const paged = await allConsumption(t, tenants.acme.read, { sort: "-endTime" });
    assert.deepEqual(paged.map((r) => r.id), down.map((r) => r.id), "-endTime in pages of 7: the cursor keeps the sort");
    const up = await licenses.getLicenseConsumption({ limit: 200, sort: "+endTime" }, as(tenants.acme.read));
    assert.deepEqual(up.data.data.map((r) => r.id), records.map((r) => r.id), "+endTime is the default order");
  });

  it("filters on endTime with eq, gt, ge, lt, le and and", async (t) => {
    const records = await full(t);
    const times = [...new Set(records.map((r) => r.endTime))].sort((x, y) => (instant(x) < instant(y) ? -1 : 1));
    assert.ok(times.length >= 3, `the setup gives at least three end times, got ${times.length}`);
    const pivot = times[Math.floor(times.length / 2)];
    const p = instant(pivot);
    const want = (pred) => records.filter((r) => pred(instant(r.endTime))).map((r) => r.id);
    const filtered = async (filter) => {
      const { data } = await licenses.getLicenseConsumption({ limit: 200, filter }, as(tenants.acme.read));
      valid(t, "ConsumptionEventsResponse", data, `filter ${filter}`);
      return data.data.map((r) => r.id);
    };
    const cases = [
      [`endTime eq "${pivot}"`, (x) => x === p],
      [`endTime gt "${pivot}"`, (x) => x > p],
      [`endTime ge "${pivot}"`, (x) => x >= p],
      [`endTime lt "${pivot}"`, (x) => x < p],
      [`endTime le "${pivot}"`, (x) => x <= p],
      [`endTime GE "${pivot}"`, (x) => x >= p],
      [`endTime ge "${times[0]}" and endTime lt "${times.at(-1)}"`, (x) => x >= instant(times[0]) && x < instant(times.at(-1))],
    ];
    for (const [filter, pred] of cases) {
      const expected = want(pred);
      assert.ok(expected.length > 0 && expected.length < records.length || filter.includes(" eq "), `case ${filter} selects a proper subset`);
      assert.deepEqual(await filtered(filter), expected, `filter ${filter}`);
    }
    // the same instant written with another offset (+01:00) selects the same records
    const seconds = p / 1_000_000_000n;
    const ticks = String((p % 1_000_000_000n) / 100n).padStart(7, "0");
    const plusOne = `${new Date(Number(seconds) * 1000 + 3_600_000).toISOString().slice(0, 19)}.${ticks}+01:00`;
    assert.deepEqual(await filtered(`endTime eq "${plusOne}"`), want((x) => x === p), `filter endTime eq "${plusOne}" (the instant ${pivot})`);
    // in pages of 7 the cursor keeps the filter
    const ge = `endTime ge "${pivot}"`;
    assert.deepEqual((await allConsumption(t, tenants.acme.read, { filter: ge })).map((r) => r.id), want((x) => x >= p),
      `filter ${ge} in pages of 7`);
  });

  it("refuses bad queries with the documented codes", async (t) => {
    const key = tenants.acme.read;
    const bad = [
      [{ filter: 'startTime gt "2026-01-01T00:00:00Z"' }, "LICENSES-904"],
      [{ filter: "endTime gt 2026" }, "LICENSES-904"],
      [{ filter: 'endTime gt "2026-01-01T00:00:00"' }, "LICENSES-904"],
      [{ filter: 'endTime gt "2026-01-01T00:00:00Z" or endTime lt "2026-02-01T00:00:00Z"' }, "LICENSES-904"],
      [{ page: "abc" }, "LICENSES-905"],
      [{ limit: 0 }, "LICENSES-903"],
      [{ limit: 201 }, "LICENSES-903"],
      [{ limit: "seven" }, "LICENSES-903"],
      [{ sort: "appId" }, "LICENSES-903"],
    ];
    for (const [query, code] of bad) {
      const body = await fails(t, licenses.getLicenseConsumption(query, as(key)), 400, code, `consumption ${JSON.stringify(query)}`);
      if (code === "LICENSES-904") {
        const detail = body.errors.find((e) => e.code === code).detail;
        assert.match(detail ?? "", /\d/, `904 detail names the position: ${detail}`);
      }
    }
    // a cursor issued for one filter is refused under another
    const filtered = await licenses.getLicenseConsumption({ limit: 1, filter: 'endTime ge "2000-01-01T00:00:00Z"' }, as(key));
    const href = filtered.data.links.next?.href;
    assert.ok(href, "a filtered first page of one record has a next link");
    const page = new URL(href).searchParams.get("page");
    await fails(t, licenses.getLicenseConsumption({ limit: 1, page, filter: 'endTime ge "2001-01-01T00:00:00Z"' }, as(key)),
      400, "LICENSES-905", "a cursor with another filter");
    const ascending = await licenses.getLicenseConsumption({ limit: 1 }, as(key));
    const ascendingPage = new URL(ascending.data.links.next.href).searchParams.get("page");
    await fails(t, licenses.getLicenseConsumption({ limit: 1, page: ascendingPage, sort: "-endTime" }, as(key)),
      400, "LICENSES-905", "a cursor with another sort");
    // the default page is 200 records, and the largest page is accepted
    const plain = await licenses.getLicenseConsumption({}, as(key));
    valid(t, "ConsumptionEventsResponse", plain.data, "no query");
    assert.deepEqual(plain.data.data.map((r) => r.id), (await full(t)).map((r) => r.id), "no limit: every record (fewer than 200)");
    assert.equal(plain.data.links.next, undefined);
    const big = await licenses.getLicenseConsumption({ limit: 200 }, as(key));
    valid(t, "ConsumptionEventsResponse", big.data, "limit 200");
    assert.equal(big.data.data.length, (await full(t)).length);
  });

  it("neither skips nor repeats a record when units arrive between pages, and still ends", async (t) => {
    const a = tenants.acme;
    const before = (await allConsumption(t, a.read)).map((r) => r.id);
    const p1 = await licenses.getLicenseConsumption({ limit: 7 }, as(a.read));
    valid(t, "ConsumptionEventsResponse", p1.data, "page 1");
    assert.ok(p1.next, "page 1 has a next page");
    const p2 = await p1.next();
    valid(t, "ConsumptionEventsResponse", p2.data, "page 2");
    assert.ok(p2.next, "page 2 has a next page");

    const late = ["late1", "late2", "late3", "late4", "late5"];
    const results = await tally.sendEvents(a, late.map((user) => ({ user, app: "sales", action: "open-app" })));
    assert.deepEqual(results.map((r) => r.decision), late.map(() => "charged"), "five new units");

    const rest = await forward(t, "ConsumptionEventsResponse", await p2.next());
    const seen = [p1, p2, ...rest].flatMap((p) => p.data.data.map((r) => r.id));
    const repeats = seen.filter((id, i) => seen.indexOf(id) !== i);
    assert.deepEqual(repeats, [], "no record repeats");
    const missing = before.filter((id) => !seen.includes(id));
    assert.deepEqual(missing, [], "no record that existed before is skipped");
    assert.equal(seen.length, before.length + late.length, "the new units (later endTime) show at the end");
    const lateRecords = [p1, p2, ...rest].flatMap((p) => p.data.data).filter((r) => late.includes(r.userId));
    assert.deepEqual(lateRecords.map((r) => r.userId).sort(), late);
  });
});

describe("(e) assignments", () => {
  const expectSeats = async (tenant, expected, what) => {
    assert.deepEqual(sorted(await seatsInTally(tenant)), sorted(expected), `GET /api/v1/allocations after ${what}`);
  };
  const item = (data, i = 0) => data.data[i];

  it("add, list, update, delete: each shows in Tally's allocations, and Tally's changes show in the client", async (t) => {
    const s = tenants.seats;
    const opts = as(s.admin);
    const t0 = Date.now();

    // add one Professional seat
    let r = await licenses.addLicenseAssignments({ add: [{ subject: "alice", type: "professional" }] }, opts);
    assert.equal(r.status, 207);
    valid(t, "AssignmentsActionsAddResponse", r.data, "add alice");
    assert.deepEqual(item(r.data), { status: 201, subject: "alice", type: "professional" });
    await expectSeats(s, { alice: "professional" }, "adding alice");

    // the same subject again, while a Professional seat is still free: 409
    r = await licenses.addLicenseAssignments({ add: [{ subject: "alice", type: "professional" }] }, opts);
    valid(t, "AssignmentsActionsAddResponse", r.data, "add alice again");
    assert.deepEqual([item(r.data).status, item(r.data).code, item(r.data).subject], [409, "LICENSES-909", "alice"]);
    assert.equal(typeof item(r.data).title, "string");
    await expectSeats(s, { alice: "professional" }, "the duplicate add");

    // two more Professional: the first takes the last seat, the second finds none
    r = await licenses.addLicenseAssignments({ add: [{ subject: "bruno", type: "professional" }, { subject: "carla", type: "professional" }] }, opts);
    valid(t, "AssignmentsActionsAddResponse", r.data, "add bruno, carla");
    assert.equal(r.data.data.length, 2);
    assert.deepEqual(item(r.data, 0), { status: 201, subject: "bruno", type: "professional" });
    assert.deepEqual(item(r.data, 1), { status: 403, code: "LICENSES-011", subject: "carla", type: "professional",
      title: "No available allotment error, No available allotment." });
    await expectSeats(s, { alice: "professional", bruno: "professional" }, "adding bruno and carla");

    r = await licenses.addLicenseAssignments({ add: [{ subject: "carla", type: "analyzer" }] }, opts);
    valid(t, "AssignmentsActionsAddResponse", r.data, "add carla analyzer");
    assert.deepEqual(item(r.data), { status: 201, subject: "carla", type: "analyzer" });
    await expectSeats(s, { alice: "professional", bruno: "professional", carla: "analyzer" }, "adding carla as analyzer");

    r = await licenses.addLicenseAssignments({ add: [{ subject: "dave", type: "superuser" }] }, opts);
    valid(t, "AssignmentsActionsAddResponse", r.data, "add an unknown type");
    assert.deepEqual([item(r.data).status, item(r.data).code, item(r.data).subject], [400, "LICENSES-908", "dave"]);
    await expectSeats(s, { alice: "professional", bruno: "professional", carla: "analyzer" }, "an unknown type");

    const { data: o } = await licenses.getLicenseOverview(as(s.read));
    valid(t, "LicenseOverview", o, "overview after the adds");
    const used = Object.fromEntries(o.allotments.map((x) => [x.name, x.unitsUsed]));
    assert.deepEqual([used.professional, used.analyzer], [2, 1], "overview unitsUsed counts the seats held (none used yet)");

    // alice uses the platform; bruno and carla never do
    await tally.sendEvents(s, [{ user: "alice", app: "sales", action: "open-app" }]);

    // list
    const listed = await seatsInClient(t, s);
    assert.deepEqual(sorted(asMap(listed)), { alice: "professional", bruno: "professional", carla: "analyzer" });
    for (const rec of listed) {
      assert.equal(rec.excess, false);
      const created = Date.parse(rec.created);
      assert.ok(created >= t0 - 1000 && created <= Date.now() + 1000, `created ${rec.created} of ${rec.subject}`);
    }
    assert.deepEqual(listed.map((x) => x.subject), ["alice", "bruno", "carla"], "default sort +created");

    const one = await seatsInClient(t, s, { filter: 'subject eq "bruno"' });
    assert.deepEqual(one.map((x) => [x.subject, x.type]), [["bruno", "professional"]], 'filter subject eq "bruno"');
    const analyzers = await seatsInClient(t, s, { filter: 'type eq "analyzer"' });
    assert.deepEqual(analyzers.map((x) => x.subject), ["carla"], 'filter type eq "analyzer"');
    const contains = await seatsInClient(t, s, { filter: 'subject co "ar"' });
    assert.deepEqual(contains.map((x) => x.subject), ["carla"], 'filter subject co "ar"');
    const starts = await seatsInClient(t, s, { filter: 'subject sw "b"' });
    assert.deepEqual(starts.map((x) => x.subject), ["bruno"], 'filter subject sw "b"');
    const both = await seatsInClient(t, s, { filter: 'type eq "professional" and subject sw "a"' });
    assert.deepEqual(both.map((x) => x.subject), ["alice"], 'filter type eq "professional" and subject sw "a"');
    const down = await seatsInClient(t, s, { sort: "-subject" });
    assert.deepEqual(down.map((x) => x.subject), ["carla", "bruno", "alice"], "sort -subject");

    const first = await licenses.getLicenseAssignments({ limit: 1 }, as(s.read));
    assert.equal(first.data.links.prev, undefined);
    const pages = await forward(t, "AssignmentsResponse", first);
    assert.deepEqual(pages.map((p) => p.data.data.map((x) => x.subject)), [["alice"], ["bruno"], ["carla"]], "limit 1, next() through every page");
    assert.ok(first.data.links.next.href.startsWith(`${tally.base}/api/v1/licenses/assignments?`), `absolute next href: ${first.data.links.next.href}`);
    const back = await backward(t, "AssignmentsResponse", pages.at(-1));
    assert.deepEqual(back.map((p) => p.data.data.map((x) => x.subject)), [["carla"], ["bruno"], ["alice"]], "prev() back to the first page");

    const orphans = await seatsInClient(t, s, { orphans: true });
    assert.deepEqual(orphans.map((x) => x.subject).sort(), ["bruno", "carla"], "orphans=true: never seen in an event");

    // update: analyzer -> professional while no Professional seat is free
    r = await licenses.updateLicenseAssignments({ update: [{ subject: "carla", type: "professional", sourceType: "analyzer" }] }, opts);
    assert.equal(r.status, 207);
    valid(t, "AssignmentsActionsUpdateResponse", r.data, "update carla with no free seat");
    assert.deepEqual([item(r.data).status, item(r.data).code], [403, "LICENSES-011"]);
    await expectSeats(s, { alice: "professional", bruno: "professional", carla: "analyzer" }, "a refused update");

    // free one Professional seat, then the same update succeeds
    r = await licenses.deleteLicenseAssignments({ delete: [{ subject: "bruno", type: "professional" }] }, opts);
    assert.equal(r.status, 207);
    valid(t, "AssignmentsActionsDeleteResponse", r.data, "delete bruno");
    assert.deepEqual([item(r.data).status, item(r.data).subject, item(r.data).type], [200, "bruno", "professional"]);
    await expectSeats(s, { alice: "professional", carla: "analyzer" }, "deleting bruno");

    r = await licenses.updateLicenseAssignments({ update: [{ subject: "carla", type: "professional", sourceType: "analyzer" }] }, opts);
    valid(t, "AssignmentsActionsUpdateResponse", r.data, "update carla");
    assert.deepEqual(item(r.data), { status: 200, subject: "carla", type: "professional", sourceType: "analyzer",
      ...(item(r.data).sourceSubject !== undefined ? { sourceSubject: "carla" } : {}) });
    await expectSeats(s, { alice: "professional", carla: "professional" }, "carla's type change");

    // move carla's seat to erin
    r = await licenses.updateLicenseAssignments({ update: [{ subject: "erin", sourceSubject: "carla" }] }, opts);
    valid(t, "AssignmentsActionsUpdateResponse", r.data, "move carla -> erin");
    assert.deepEqual([item(r.data).status, item(r.data).subject, item(r.data).sourceSubject], [201, "erin", "carla"]);
    await expectSeats(s, { alice: "professional", erin: "professional" }, "moving carla's seat to erin");

    r = await licenses.updateLicenseAssignments({ update: [{ subject: "alice", type: "analyzer", sourceType: "analyzer" }] }, opts);
    valid(t, "AssignmentsActionsUpdateResponse", r.data, "update alice with the wrong sourceType");
    assert.deepEqual([item(r.data).status, item(r.data).code], [404, "LICENSES-016"], "sourceType must match the seat held");
    await expectSeats(s, { alice: "professional", erin: "professional" }, "an update with the wrong sourceType");

    r = await licenses.updateLicenseAssignments({ update: [{ subject: "nobody", type: "analyzer" }] }, opts);
    valid(t, "AssignmentsActionsUpdateResponse", r.data, "update an unknown subject");
    assert.deepEqual([item(r.data).status, item(r.data).code], [404, "LICENSES-016"]);
    assert.equal(item(r.data).title, "Assignment not found.");

    // delete twice
    r = await licenses.deleteLicenseAssignments({ delete: [{ subject: "erin", type: "professional" }] }, opts);
    valid(t, "AssignmentsActionsDeleteResponse", r.data, "delete erin");
    assert.equal(item(r.data).status, 200);
    await expectSeats(s, { alice: "professional" }, "deleting erin");
    r = await licenses.deleteLicenseAssignments({ delete: [{ subject: "erin", type: "professional" }] }, opts);
    valid(t, "AssignmentsActionsDeleteResponse", r.data, "delete erin again");
    assert.deepEqual([item(r.data).status, item(r.data).code], [404, "LICENSES-016"]);
    assert.equal(item(r.data).title, "Assignment not found.");

    // a seat given through Tally's own API shows in the client
    await tally.api("PUT", "/api/v1/users/frank", s.admin, { allocation: "analyzer" }, 200);
    const now = await seatsInClient(t, s);
    assert.deepEqual(sorted(asMap(now)), { alice: "professional", frank: "analyzer" }, "PUT /api/v1/users/frank shows in getLicenseAssignments");
    r = await licenses.updateLicenseAssignments({ update: [{ subject: "frank", sourceSubject: "alice" }] }, opts);
    valid(t, "AssignmentsActionsUpdateResponse", r.data, "move alice's seat onto frank, who holds one");
    assert.deepEqual([item(r.data).status, item(r.data).code], [409, "LICENSES-909"]);
    await expectSeats(s, { alice: "professional", frank: "analyzer" }, "a move onto a seat holder");
    await tally.api("DELETE", "/api/v1/users/frank", s.admin, undefined, 200);
    assert.deepEqual(asMap(await seatsInClient(t, s)), { alice: "professional" }, "DELETE /api/v1/users/frank shows too");
  });

  it("refuses a bad body with LICENSES-906, naming the position", async (t) => {
    const s = tenants.seats;
    const before = await seatsInTally(s);
    await fails(t, licenses.addLicenseAssignments({ update: [] }, as(s.admin)), 400, "LICENSES-906", "add without add[]");
    const body = await fails(t, licenses.deleteLicenseAssignments({ delete: [{ subject: "alice", type: "professional" }, { type: "analyzer" }] }, as(s.admin)),
      400, "LICENSES-906", "delete[1] without subject");
    const detail = body.errors.find((e) => e.code === "LICENSES-906").detail ?? "";
    assert.match(detail, /delete\[1\]\.subject/, `906 detail names the item: ${detail}`);
    assert.deepEqual(await seatsInTally(s), before, "a refused body changes nothing, not even its valid items");
  });

  it("refuses bad list queries with the documented codes", async (t) => {
    const key = tenants.seats.read;
    const bad = [
      [{ limit: 0 }, "LICENSES-903"],
      [{ limit: 101 }, "LICENSES-903"],
      [{ limit: "x" }, "LICENSES-903"],
      [{ sort: "-color" }, "LICENSES-903"],
      [{ orphans: "maybe" }, "LICENSES-903"],
      [{ filter: 'subject gt "a"' }, "LICENSES-904"],
      [{ filter: 'color eq "red"' }, "LICENSES-904"],
      [{ filter: 'subject eq "a" or type eq "analyzer"' }, "LICENSES-904"],
      [{ page: "abc" }, "LICENSES-905"],
    ];
    for (const [query, code] of bad) {
      await fails(t, licenses.getLicenseAssignments(query, as(key)), 400, code, `assignments ${JSON.stringify(query)}`);
    }
  });
});

describe("(e2) seats beyond the license", () => {
  it("marks the seats beyond a smaller license as excess", async (t) => {
    const x = await tally.tenant("shrink");
    const larger = await tally.issueLicense({ name: "shrink-large", licenseId: "L-SHRINK-LARGE", validFrom: license.validFrom, validTo: license.validTo });
    await tally.installLicense(x, larger);
    const r = await licenses.addLicenseAssignments({ add: [{ subject: "first", type: "professional" }, { subject: "second", type: "professional" }] }, as(x.admin));
    assert.deepEqual(r.data.data.map((i) => i.status), [201, 201]);
    const smaller = await tally.issueLicense({ name: "shrink", professional: 1, licenseId: "L-SHRINK",
      validFrom: license.validFrom, validTo: license.validTo });
    await tally.installLicense(x, smaller);
    const listed = await seatsInClient(t, x);
    assert.deepEqual(listed.map((a) => [a.subject, a.type]).sort(), [["first", "professional"], ["second", "professional"]]);
    assert.equal(listed.filter((a) => a.excess).length, 1, `one seat beyond the 1 licensed: ${JSON.stringify(listed)}`);
    assert.equal(listed.filter((a) => !a.excess).length, 1);
  });
});

describe("(f) tenant without a license", () => {
  it("has no overview (404 LICENSES-907) and status Missing", async (t) => {
    const b = tenants.bare;
    await fails(t, licenses.getLicenseOverview(as(b.read)), 404, "LICENSES-907", "overview without a license");
    const { data: s, status } = await licenses.getLicenseStatus(as(b.read));
    assert.equal(status, 200);
    valid(t, "LicenseStatus", s, "status without a license");
    assert.deepEqual(s, { deactivated: false, extensionStatus: "Unavailable", origin: "External", product: PRODUCT,
      status: "Missing", trial: false, type: "Signed", valid: "./." });
  });
});

describe("(g) a license that expires", () => {
  it("turns status and overview to Expired at validTo", { timeout: 45_000 }, async (t) => {
    const x = await tally.tenant("expiring");
    const now = Date.now();
    const lic = await tally.issueLicense({ name: "expiring", validFrom: isoSeconds(now - 3_600_000), validTo: isoSeconds(now + 4_000),
      licenseId: "L-SOON" });
    const validTo = Date.parse(lic.validTo);
    await tally.installLicense(x, lic);
    const early = await licenses.getLicenseStatus(as(x.read));
    if (Date.now() < validTo) {
      assert.equal(early.data.status, "Ok", "answered before validTo");
    }
    let status;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { data } = await licenses.getLicenseStatus(as(x.read));
      valid(t, "LicenseStatus", data, "status while expiring");
      status = data.status;
      if (status === "Expired") break;
      assert.ok(Date.now() < deadline, `status still ${status} 30 s after issuing (validTo ${lic.validTo})`);
      await new Promise((ok) => setTimeout(ok, 500));
    }
    assert.ok(Date.now() >= validTo - 1000, "Expired only once validTo has passed");
    const { data: o } = await licenses.getLicenseOverview(as(x.admin));
    valid(t, "LicenseOverview", o, "overview of an expired license");
    assert.equal(o.status, "Expired");
    assert.equal(o.licenseNumber, "L-SOON");
    assert.equal(Date.parse(o.valid.split("/")[1]), validTo);
  });
});

describe("(h) authentication and roles", () => {
  it("answers 401 LICENSES-901 to an unknown key", async (t) => {
    const wrong = "tally_000000000000_notarealkeynotarealkeynotarealkey";
    await fails(t, licenses.getLicenseOverview(as(wrong)), 401, "LICENSES-901", "overview with a wrong key");
    await fails(t, licenses.getLicenseConsumption({}, as(wrong)), 401, "LICENSES-901", "consumption with a wrong key");
    await fails(t, licenses.getLicenseStatus(as(wrong)), 401, "LICENSES-901", "status with a wrong key");
  });

  it("answers 403 LICENSES-902 to a key of the wrong role, and changes nothing", async (t) => {
    const s = tenants.seats;
    const seatsBefore = await seatsInTally(s);
    await fails(t, licenses.addLicenseAssignments({ add: [{ subject: "mallory", type: "analyzer" }] }, as(s.read)), 403, "LICENSES-902",
      "add with a read key");
    assert.deepEqual(await seatsInTally(s), seatsBefore, "nothing assigned");
    const settingsBefore = await tally.allocations(tenants.settings);
    await fails(t, licenses.updateLicenseSettings({ autoAssignAnalyzer: !settingsBefore.autoAssignAnalyzer }, as(tenants.settings.read)),
      403, "LICENSES-902", "PUT settings with a read key");
    assert.equal((await tally.allocations(tenants.settings)).autoAssignAnalyzer, settingsBefore.autoAssignAnalyzer);
    await fails(t, licenses.getLicenseOverview(as(tenants.acme.ingest)), 403, "LICENSES-902", "overview with an ingest key");
  });
});
