// JSON Schemas of the licenses API's response types, generated at test time from the client's own type
// declarations (node_modules/@qlik/api/licenses.d.ts) with ts-json-schema-generator, and compiled with ajv.
// Nothing here is hand-written: when @qlik/api changes its types, the tests check against the new ones.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { createGenerator } from "ts-json-schema-generator";
import Ajv from "ajv";
import addFormats from "ajv-formats";

export const TYPES = [
  "LicenseOverview",
  "LicenseStatus",
  "SettingsBody",
  "ConsumptionEventsResponse",
  "AssignmentsResponse",
  "AssignmentsActionsAddResponse",
  "AssignmentsActionsUpdateResponse",
  "AssignmentsActionsDeleteResponse",
  "ErrorResponse",
];

/** The client's licenses.d.ts, beside the module that `import "@qlik/api/licenses"` loads. */
export function licensesDts() {
  const licensesJs = fileURLToPath(import.meta.resolve("@qlik/api/licenses"));
  return join(dirname(licensesJs), "licenses.d.ts");
}

/**
 * Generates one JSON Schema per type. The .d.ts is read as shipped, its imports included, and fully
 * type-checked. The only thing supplied is a compiler configuration with `types: []`: without it TypeScript
 * looks for @types/node (which the client's types never use, and which is not installed), and the type check
 * fails with "Cannot find type definition file for 'node'".
 *
 * `additionalProperties: true` keeps TypeScript's meaning of an object type: it names the fields a value must
 * (or may) have and says nothing against further fields (Tally's overview keeps a `period` field, for one).
 * Fields outside the types are reported separately by `extraFields`.
 */
export function generateSchemas() {
  const dir = mkdtempSync(join(tmpdir(), "tally-qlik-schemas-"));
  try {
    const tsconfig = join(dir, "tsconfig.json");
    writeFileSync(tsconfig, JSON.stringify({
      compilerOptions: { types: [], strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true },
      files: [],
    }));
    const generator = createGenerator({
      path: licensesDts(),
      tsconfig,
      type: "*",
      expose: "export",
      topRef: true,
      jsDoc: "extended",
      additionalProperties: true,
      skipTypeCheck: false,
    });
    const schemas = {};
    for (const type of TYPES) {
      schemas[type] = generator.createSchema(type);
    }
    return schemas;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same schema with every object closed (additionalProperties: false): used only to list extra fields. */
function closed(schema) {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== "object") return schema;
  const copy = {};
  for (const [k, v] of Object.entries(schema)) copy[k] = closed(v);
  if (copy.type === "object" && copy.properties && copy.additionalProperties === undefined) {
    copy.additionalProperties = false;
  }
  return copy;
}

/** Compiles the generated schemas; answers { validate(type, data, what), extraFields(type, data), schemas }. */
export function compileSchemas(schemas) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const strictAjv = new Ajv({ allErrors: true, strict: false });
  addFormats(strictAjv);
  const validators = {};
  const closedValidators = {};
  for (const [type, schema] of Object.entries(schemas)) {
    validators[type] = ajv.compile(schema);
    closedValidators[type] = strictAjv.compile(closed(schema));
  }
  return {
    schemas,
    /** Fails (AssertionError with ajv's text) unless `data` is a valid `type` of the client. */
    validate(type, data, what = "response") {
      const check = validators[type];
      assert.ok(check, `no schema for ${type}`);
      if (!check(data)) {
        const text = check.errors.map((e) => ajv.errorsText([e], { dataVar: type })
          + (e.keyword === "enum" ? ` ${JSON.stringify(e.params.allowedValues)}, got ${JSON.stringify(valueAt(data, e.instancePath))}` : ""))
          .join("\n  ");
        assert.fail(`${what} is not a valid ${type} (from @qlik/api licenses.d.ts):\n  ${text}\nbody: ${
          JSON.stringify(data)?.slice(0, 1500)}`);
      }
      return data;
    },
    /** Paths of fields present in `data` that the client's type does not declare (informational). */
    extraFields(type, data) {
      const check = closedValidators[type];
      if (check(data)) return [];
      return [...new Set((check.errors ?? [])
        .filter((e) => e.keyword === "additionalProperties")
        .map((e) => `${e.instancePath.replace(/\/\d+(?=\/|$)/g, "/*") || "/"}${e.instancePath ? "/" : ""}${e.params.additionalProperty}`))];
    },
  };
}

function valueAt(data, pointer) {
  return pointer.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((v, key) => (v == null ? v : v[key]), data);
}
