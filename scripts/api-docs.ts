// `npm run docs`: docs/API.md, the reference of what a plugin imports from the SDK, made
// from the doc comments of every symbol assembly/index.ts exports (and the functions the
// agent calls, assembly/exports.ts). `--check` fails when docs/API.md is not what the
// source says (tests/release/api-docs.test.ts runs it).
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import { root } from "./compile.ts";

const OUT = join(root, "docs", "API.md");

interface Entry {
  name: string;
  kind: string;
  signature: string;
  doc: string;
  members: Array<{ signature: string; doc: string }>;
}

function sourceOf(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
}

function docOf(node: ts.Node): string {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  return docs.map((d) => {
    const text = ts.getTextOfJSDocComment(d.comment) ?? "";
    const tags: readonly ts.JSDocTag[] = d.tags ?? [];
    const params = tags.filter((t): t is ts.JSDocParameterTag => ts.isJSDocParameterTag(t))
      .map((t) => `- \`${t.name.getText()}\`: ${(ts.getTextOfJSDocComment(t.comment) ?? "").replace(/^- /, "")}`);
    return [text, ...params].filter(Boolean).join("\n");
  }).join("\n").trim();
}

/** A declaration's text up to its body: the signature a reader needs. */
function head(node: ts.Node): string {
  const text = node.getText();
  const body = (node as { body?: ts.Node }).body;
  let sig = body ? text.slice(0, body.getStart() - node.getStart()) : text;
  if (ts.isClassDeclaration(node)) sig = text.slice(0, text.indexOf("{"));
  if (ts.isVariableStatement(node)) sig = text.replace(/;$/, "");
  return sig.replace(/^export\s+/, "").replace(/\s+/g, " ").replace(/\s*\{?\s*$/, "").trim();
}

function isPublic(m: ts.ClassElement): boolean {
  const mods = ts.canHaveModifiers(m) ? ts.getModifiers(m) ?? [] : [];
  if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword)) return false;
  const name = m.name?.getText() ?? "";
  return !name.startsWith("_") && !name.startsWith("#");
}

function declName(node: ts.Node): string | null {
  if (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node) || ts.isEnumDeclaration(node) || ts.isInterfaceDeclaration(node)) return node.name?.text ?? null;
  if (ts.isVariableStatement(node)) return node.declarationList.declarations[0]!.name.getText();
  return null;
}

function isExported(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

function entryOf(node: ts.Node, name: string): Entry {
  const kind = ts.isClassDeclaration(node) ? "class" : ts.isFunctionDeclaration(node) ? "function" : ts.isVariableStatement(node) ? "const" : "type";
  const members: Entry["members"] = [];
  if (ts.isClassDeclaration(node)) {
    for (const m of node.members) {
      if (!isPublic(m) || ts.isSemicolonClassElement(m)) continue;
      if (ts.isConstructorDeclaration(m)) {
        members.push({ signature: head(m).replace(/\b(public|readonly)\s+/g, ""), doc: docOf(m) });
        continue;
      }
      // Fields of plain data classes are documented where they have a comment.
      const doc = docOf(m);
      if (ts.isPropertyDeclaration(m) && !doc) continue;
      const sig = ts.isPropertyDeclaration(m) ? m.getText().replace(/\s*=[^=].*$/s, "").replace(/;$/, "") : head(m);
      members.push({ signature: sig.replace(/\s+/g, " ").replace(/^@inline\s+/, ""), doc });
    }
  }
  return { name, kind, signature: head(node).replace(/^(@\w+(\([^)]*\))?\s+)+/, "").replace(/^export\s+/, ""), doc: docOf(node), members };
}

/** Exported declarations of a module, by name. */
function exportsOf(file: string): Map<string, ts.Node> {
  const out = new Map<string, ts.Node>();
  for (const s of sourceOf(file).statements) {
    const name = declName(s);
    if (name && isExported(s)) out.set(name, s);
  }
  return out;
}

function modulePath(from: string, spec: string): string {
  return join(dirname(from), spec.endsWith(".ts") ? spec : `${spec}.ts`);
}

/** What a file re-exports, grouped by the module that declares it, in order. */
function collect(index: string): Array<{ module: string; entries: Entry[] }> {
  const groups: Array<{ module: string; entries: Entry[] }> = [];
  for (const s of sourceOf(index).statements) {
    if (!ts.isExportDeclaration(s) || !s.moduleSpecifier) continue;
    const file = modulePath(index, (s.moduleSpecifier as ts.StringLiteral).text);
    const decls = exportsOf(file);
    const names = s.exportClause && ts.isNamedExports(s.exportClause) ? s.exportClause.elements.map((e) => e.name.text) : [...decls.keys()];
    const entries = names.map((n) => {
      const d = decls.get(n);
      if (!d) throw new Error(`${relative(root, index)} exports ${n}, which ${relative(root, file)} does not declare`);
      return entryOf(d, n);
    });
    groups.push({ module: relative(root, file), entries });
  }
  return groups;
}

function render(): string {
  const lines = [
    "# SDK API reference",
    "",
    "Made by `npm run docs` from the doc comments of `assembly/` (do not edit by hand). A plugin",
    "imports these from `assembly/index.ts` (in a project of its own: `\"deepflow-wasm-sdk\"`), and",
    "re-exports `assembly/exports.ts`, the functions the agent calls. The README's \"Writing a plugin\"",
    "and \"Protocol numbers\" sections say how they fit together; \"Testing\" how to test a plugin.",
    "",
  ];
  const agent = join(root, "assembly", "exports.ts");
  const groups = [...collect(join(root, "assembly", "index.ts")), { module: relative(root, agent), entries: [...exportsOf(agent)].map(([n, d]) => entryOf(d, n)) }];
  for (const g of groups) {
    lines.push(`## \`${g.module}\``, "");
    for (const e of g.entries) {
      lines.push(`### ${e.name}`, "", "```ts", e.signature, "```", "");
      if (e.doc) lines.push(e.doc, "");
      for (const m of e.members) {
        lines.push(`- \`${m.signature}\``);
        if (m.doc) lines.push(...m.doc.split("\n").map((l) => `  ${l}`));
      }
      if (e.members.length) lines.push("");
    }
  }
  return lines.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

const text = render();
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(OUT, "utf8");
  } catch {
    // missing: reported below
  }
  if (current !== text) {
    console.error("docs/API.md is not what the SDK's doc comments say: run npm run docs");
    process.exit(1);
  }
  console.log("docs/API.md is up to date");
} else {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, text);
  console.log(`wrote ${relative(root, OUT)} (${text.split("\n").length} lines)`);
}
