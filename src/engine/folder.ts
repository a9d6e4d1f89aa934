import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { PolicySource } from './policy-set.js';

/** What a policies folder holds: policy files, an optional schema and policy test files. */
export interface PolicyFolder {
  dir: string;
  sources: PolicySource[];
  schema: PolicySource | null;
  /** Paths of `*.test.yaml` / `*.test.yml` / `*.test.json` files, relative to `dir`. */
  tests: PolicySource[];
}

export const SCHEMA_FILE = 'schema.json';
const TEST_FILE = /\.test\.(ya?ml|json)$/;
const MAX_FILES = 100_000;

export class FolderError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/**
 * Reads every `*.gavel` file under `dir` (recursively; hidden folders and node_modules are
 * skipped), `schema.json` at its top, and the policy test files. File names in the result
 * use `/` on every platform, so ids and revisions are the same everywhere.
 */
export async function loadPolicyFolder(dir: string): Promise<PolicyFolder> {
  const files = await walk(dir).catch((err: unknown) => {
    if (err instanceof FolderError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FolderError(code === 'ENOENT' ? `policies folder \`${dir}\` does not exist` : code === 'ENOTDIR' ? `\`${dir}\` is not a folder` : `cannot read \`${dir}\`: ${String(err)}`);
  });
  const folder: PolicyFolder = { dir, sources: [], schema: null, tests: [] };
  for (const path of files.sort()) {
    const file = relative(dir, path).split(sep).join('/');
    const isPolicy = file.endsWith('.gavel');
    const isTest = TEST_FILE.test(file);
    if (!isPolicy && !isTest && file !== SCHEMA_FILE) continue;
    const source = { file, text: await readFile(path, 'utf8') };
    if (isPolicy) folder.sources.push(source);
    else if (isTest) folder.tests.push(source);
    else folder.schema = source;
  }
  return folder;
}

async function walk(dir: string, found: string[] = []): Promise<string[]> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await walk(path, found);
    else if (entry.isFile()) found.push(path);
    if (found.length > MAX_FILES) throw new FolderError(`more than ${MAX_FILES} files under \`${dir}\``);
  }
  return found;
}
