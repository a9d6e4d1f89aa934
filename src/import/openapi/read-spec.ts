/**
 * An OpenAPI document's text → its value, plus a way to point at any part of it. JSON and
 * YAML are both read with the `yaml` package (JSON is YAML 1.2), so every later problem
 * can be reported at a line and column; `.json` files are first read by `JSON.parse` so a
 * JSON syntax error reads like one. Nothing here throws on bad input: problems are values.
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { jsonProblem as locateJsonError } from '../../formats/json-error.js';

export interface Located {
  line: number;
  col: number;
}

export interface SpecProblem extends Located {
  message: string;
}

/** A key path into the document: `['paths', '/invoices', 'get', 'security', 0]`. */
export type SpecPath = readonly (string | number)[];

export interface Spec {
  value: unknown;
  /** Where `path` is written, or the nearest part of it that exists. */
  locate(path: SpecPath): Located;
}

/** Larger documents are refused: a spec is design-time input, and YAML can be slow to read. */
export const MAX_SPEC_CHARS = 16 * 1024 * 1024;

export function readSpec(text: string, json: boolean): Spec | { problems: SpecProblem[] } {
  if (text.length > MAX_SPEC_CHARS) return { problems: [{ line: 1, col: 1, message: `the document is larger than ${MAX_SPEC_CHARS} characters` }] };
  const lines = new LineCounter();
  const at = (offset: number): Located => {
    const { line, col } = lines.linePos(offset);
    return { line, col };
  };
  if (json) {
    const problem = jsonProblem(text);
    if (problem !== null) return { problems: [problem] };
  }
  // uniqueKeys: a key given twice is ambiguous in a security document; JSON.parse would keep the last.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) return { problems: doc.errors.map((e) => ({ ...at(e.pos[0]), message: `invalid ${json ? 'JSON' : 'YAML'}: ${firstLine(e.message)}` })) };
  let value: unknown;
  try {
    // toJS expands aliases, bounded by the package's maxAliasCount (no "billion laughs").
    value = doc.toJS();
  } catch (err: unknown) {
    return { problems: [{ line: 1, col: 1, message: `invalid YAML: ${firstLine(err instanceof Error ? err.message : String(err))}` }] };
  }
  return { value, locate: (path) => at(offsetOf(doc, path)) };
}

/** A member of a mapping is located at its key (what a reader looks for), an item of a list at the item. */
function offsetOf(doc: Document, path: SpecPath): number {
  const last = path[path.length - 1];
  const parent: unknown = path.length === 0 ? null : path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
    if (pair !== undefined && isNode(pair.key) && pair.key.range) return pair.key.range[0];
  }
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return 0;
}

function jsonProblem(text: string): SpecProblem | null {
  try {
    JSON.parse(text);
    return null;
  } catch (err: unknown) {
    const { line, col, message } = locateJsonError(text, err);
    return { line, col, message: `invalid JSON: ${message}` };
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}
