// The record schema's field numbers and enums are generated from the checked-in proto
// (schema/WasmPluginApi.proto): the generated files must be what it makes today.
import { describe, expect, it } from "vitest";
import { AS_OUT, PROTO, REGENERATE, TS_OUT, generateSchema, staleFiles } from "../../scripts/gen-schema.ts";
import { readFileSync } from "node:fs";
import { root } from "../../scripts/compile.ts";
import { join } from "node:path";

describe("generated record schema", () => {
  it(`${AS_OUT} and ${TS_OUT} are what ${PROTO} makes`, () => {
    expect(staleFiles(), `regenerate them: \`${REGENERATE}\``).toEqual([]);
  });

  it("follows a change of the proto", () => {
    const proto = readFileSync(join(root, PROTO), "utf8").replace("optional string biz_code = 33;", "optional string biz_code = 36;");
    const made = generateSchema(proto);
    expect(made[AS_OUT]).toContain("BIZ_CODE = 36,");
    expect(made[TS_OUT]).toContain("BIZ_CODE: 36,");
  });
});
