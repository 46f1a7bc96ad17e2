// Validates docs/asyncapi.yaml with @asyncapi/parser (AsyncAPI 3.0 schema + its rules);
// any diagnostic of severity "error" fails (exit 1). Run by `npm test`.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = new URL("../../../docs/asyncapi.yaml", import.meta.url);
const text = await readFile(path, "utf8");
const { document, diagnostics } = await new Parser().parse(text, { source: path.pathname });
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const d of diagnostics) {
  const where = d.path?.join(".") ?? "";
  console.log(`${["error", "warning", "info", "hint"][d.severity] ?? d.severity} ${d.code} ${where}: ${d.message}`);
}
if (errors.length > 0 || !document) {
  console.error(`docs/asyncapi.yaml: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`docs/asyncapi.yaml: valid AsyncAPI ${document.version()} (${document.channels().length} channels, ${document.operations().length} operations, ${document.messages().length} messages)`);
