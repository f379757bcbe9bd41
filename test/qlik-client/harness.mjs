// Runs the real Tally: the built CLI (tally.dll) for vendor keys and licenses, and `tally serve` as a child
// process on a free loopback port with its own data folder. Tally's own API is called with plain fetch, only to
// set data up and to cross-check what the Qlik client reports.
import { spawn, execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

/** The CLI that scripts/test builds (`dotnet build Tally.slnx -c Release`); TALLY_DLL overrides it. */
export const TALLY_DLL = process.env.TALLY_DLL
  ? resolve(process.env.TALLY_DLL)
  : resolve(here, "../../src/Tally.Cli/bin/Release/net10.0/tally.dll");

export async function tallyCli(...args) {
  assert.ok(existsSync(TALLY_DLL), `${TALLY_DLL} is missing: build it first (dotnet build src/Tally.Cli -c Release)`);
  try {
    const { stdout } = await run("dotnet", [TALLY_DLL, ...args], { timeout: 60_000, env: cliEnv() });
    return stdout;
  } catch (err) {
    throw new Error(`tally ${args.join(" ")} failed (${err.code}): ${err.stderr || err.message}`);
  }
}

function cliEnv() {
  return { ...process.env, DOTNET_CLI_TELEMETRY_OPTOUT: "1", DOTNET_NOLOGO: "1" };
}

/** An ISO instant without milliseconds (what `license issue --valid-from/--valid-to` takes). */
export function isoSeconds(ms) {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/**
 * A running `tally serve` in a fresh temp folder (vendor keys, data, licenses), with helpers for Tally's own API.
 * Call `stop()` when done: it ends the server and deletes the folder.
 */
export async function startTally({ readyTimeoutMs = 60_000 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tally-qlik-client-"));
  try {
    await tallyCli("license", "keygen", "--out", join(dir, "vendor"));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const bootstrapKey = `qlik-client-test-${randomBytes(16).toString("hex")}`;
    const child = spawn("dotnet", [
      TALLY_DLL, "serve",
      "--urls", base,
      "--data", join(dir, "data"),
      "--public-key", join(dir, "vendor", "public-key.pem"),
      `--TALLY_ADMIN_KEY=${bootstrapKey}`,
      "--Logging:LogLevel:Default=Warning",
    ], { env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
    // should this process end without after() (a crash, an interrupt), the server goes with it
    const orphanGuard = () => child.kill("SIGKILL");
    process.once("exit", orphanGuard);
    child.once("exit", () => process.off("exit", orphanGuard));
    let output = "";
    const keep = (chunk) => { output = (output + chunk).slice(-20_000); };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const exited = new Promise((ok) => child.once("exit", (code, signal) => ok({ code, signal })));
    let exitInfo = null;
    exited.then((info) => { exitInfo = info; });

    const server = new TallyServer({ dir, base, port, bootstrapKey, child, exited, output: () => output });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (exitInfo) {
        throw new Error(`tally serve exited (${JSON.stringify(exitInfo)}) before it was ready:\n${output}`);
      }
      try {
        const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error(`tally serve not ready within ${readyTimeoutMs} ms:\n${output}`);
      }
      await new Promise((ok) => setTimeout(ok, 200));
    }
    return server;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export class TallyServer {
  constructor({ dir, base, port, bootstrapKey, child, exited, output }) {
    Object.assign(this, { dir, base, port, bootstrapKey, child, exited, output });
  }

  /** Ends the server (SIGTERM, then SIGKILL after 10 s) and deletes its folder. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The host config the Qlik client is given for one key. */
  hostConfig(apiKey) {
    return { host: this.base, authType: "apikey", apiKey };
  }

  /** Tally's own API. Answers { status, body, headers }; `expect` asserts the status. */
  async api(method, path, key, body, expect) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        ...(key ? { Authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
    if (expect !== undefined) {
      assert.equal(res.status, expect, `${method} ${path}: expected ${expect}, got ${res.status}: ${text.slice(0, 1000)}`);
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  /** A tenant with an admin, a read and an ingest key (made with the bootstrap key). */
  async tenant(id) {
    await this.api("POST", "/api/v1/tenants", this.bootstrapKey, { id, name: `${id} (qlik client test)` }, 201);
    const key = async (role) =>
      (await this.api("POST", `/api/v1/tenants/${id}/api-keys`, this.bootstrapKey, { role }, 201)).body.key;
    return { id, admin: await key("admin"), read: await key("read"), ingest: await key("ingest") };
  }

  /** Issues a license with the real CLI, signed by this server's vendor key; answers { key, file, ...terms }. */
  async issueLicense({ name, customer = "Acme", packs = 1, packMinutes = 600, overage = 60, professional = 2,
    analyzer = 1, validFrom, validTo, licenseId = "L-ACME" }) {
    const file = join(this.dir, `${name}.lic`);
    await tallyCli("license", "issue",
      "--signing-key", join(this.dir, "vendor", "signing-key.pem"),
      "--customer", customer,
      "--packs", String(packs), "--pack-minutes", String(packMinutes), "--overage", String(overage),
      "--professional", String(professional), "--analyzer", String(analyzer),
      "--valid-from", validFrom, "--valid-to", validTo,
      "--license-id", licenseId, "--out", file);
    return { key: readFileSync(file, "utf8").trim(), file, customer, licenseId, validFrom, validTo, professional, analyzer };
  }

  async installLicense(tenant, license) {
    return (await this.api("PUT", "/api/v1/license", tenant.admin, { key: license.key }, 200)).body;
  }

  /** POST /api/v1/events in batches of at most 1000; asserts none was denied. Answers the decisions. */
  async sendEvents(tenant, events) {
    const results = [];
    for (let i = 0; i < events.length; i += 1000) {
      const batch = events.slice(i, i + 1000);
      const { body } = await this.api("POST", "/api/v1/events", tenant.ingest, batch, 200);
      assert.equal(body.length, batch.length);
      results.push(...body);
    }
    const denied = results.filter((r) => r.decision === "denied");
    assert.equal(denied.length, 0, `setup events denied: ${JSON.stringify(denied.slice(0, 3))}`);
    return results;
  }

  async allocations(tenant) {
    return (await this.api("GET", "/api/v1/allocations", tenant.read, undefined, 200)).body;
  }

  /** Tally's own usage summary of `period` (YYYY-MM), or of the current period when none is given. */
  async summary(tenant, period) {
    const query = period ? `?period=${encodeURIComponent(period)}` : "";
    return (await this.api("GET", `/api/v1/usage/summary${query}`, tenant.read, undefined, 200)).body;
  }

  /** Every user row of the current period (/api/v1/usage/users, all pages). */
  async usageUsers(tenant) {
    const rows = [];
    for (let offset = 0; ; offset += 1000) {
      const { body } = await this.api("GET", `/api/v1/usage/users?limit=1000&offset=${offset}`, tenant.read, undefined, 200);
      rows.push(...body.users);
      if (rows.length >= body.total || body.users.length === 0) return rows;
    }
  }
}
