// docs/API.md is generated from the SDK's doc comments: it must say what the source says.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { root } from "../support/coexist.ts";

describe("docs/API.md", () => {
  it("is what npm run docs makes of the SDK today", () => {
    expect(execFileSync(process.execPath, ["--import", "tsx", "scripts/api-docs.ts", "--check"], { cwd: root, encoding: "utf8" })).toContain("up to date");
  });
});
