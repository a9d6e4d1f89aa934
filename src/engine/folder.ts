import { isUtf8 } from 'node:buffer';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { PolicySource } from './policy-set.js';
import { PARSE_LIMITS } from '../language/parse/parser.js';
import { whyUnreadable } from '../formats/file-error.js';

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
/** Folders walked at most: a policies folder is a few levels of a few folders, not `/usr`. */
const MAX_FOLDERS = 10_000;
/**
 * Bytes of files one load reads at most. Each file is bounded (PARSE_LIMITS), but twenty
 * files each just under the bound took a server from 125 MB to 1.1 GB before the reload was
 * rejected — past a container's memory limit. Large real sets are a few megabytes.
 */
export const MAX_FOLDER_BYTES = 256 << 20;

export class FolderError extends Error {
  /**
   * The folder could not be read for a reason that passes — the process out of file
   * descriptors (EMFILE, ENFILE), a resource busy — rather than anything in it: worth reading
   * again by itself, not only at its next change.
   */
  readonly transient: boolean;

  constructor(message: string, cause?: unknown) {
    super(message);
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    this.transient = code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EBUSY' || code === 'ENOMEM';
  }
}

/**
 * Reads every `*.gavel` file under `dir` (recursively; hidden folders and node_modules are
 * skipped), `schema.json` at its top, and the policy test files. File names in the result
 * use `/` on every platform, so ids and revisions are the same everywhere.
 */
export async function loadPolicyFolder(dir: string): Promise<PolicyFolder> {
  const files = await walk(dir, dir, [], new Set()).catch((err: unknown) => {
    if (err instanceof FolderError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new FolderError(code === 'ENOENT' ? `policies folder \`${dir}\` does not exist` : code === 'ENOTDIR' ? `\`${dir}\` is not a folder` : `cannot read \`${dir}\`: ${whyUnreadable(err)}`, err);
  });
  const folder: PolicyFolder = { dir, sources: [], schema: null, tests: [] };
  const paths = files.sort();
  const budget = { left: MAX_FOLDER_BYTES, dir };
  const texts = await inOrder(paths, (path) => readText(path, budget));
  for (const [i, path] of paths.entries()) {
    const file = relative(dir, path).split(sep).join('/');
    const source = { file, text: texts[i] };
    if (file.endsWith('.gavel')) folder.sources.push(source);
    else if (TEST_FILE.test(file)) folder.tests.push(source);
    else folder.schema = source;
  }
  return folder;
}

/** The files a policies folder is made of; everything else in it is ignored. */
function wanted(top: string, path: string): boolean {
  return path.endsWith('.gavel') || TEST_FILE.test(path) || path === join(top, SCHEMA_FILE);
}

/**
 * What a reload watches and polls: the folders a load walks (their real paths), and a
 * fingerprint of the files it reads — path, size, modification time and inode of each — that
 * changes whenever one of them is written, replaced, added or removed.
 */
export async function folderState(dir: string): Promise<{ dirs: Set<string>; fingerprint: string; newestMs: number }> {
  const seen = new Set<string>();
  const files = await walk(dir, dir, [], seen);
  const parts: string[] = [];
  let newestMs = 0;
  const paths = files.sort();
  const stats = await inOrder(paths, (path) => stat(path).catch(() => null));
  for (const [i, path] of paths.entries()) {
    const s = stats[i];
    if (s === null) parts.push(`${path}:gone`);
    // ctime too: a chmod that makes an unreadable file readable changes nothing else (a poll, when the watch misses events, must see it).
    else parts.push(`${path}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`), (newestMs = Math.max(newestMs, s.mtimeMs));
  }
  return { dirs: seen, fingerprint: parts.join('\n'), newestMs };
}

/** Files read or looked at at once. */
const READ_WIDTH = 16;

/**
 * `read` of every path, a few at a time, answered in the paths' order; of failures, the first
 * in that order is thrown. One at a time, each file cost a server under load several turns of
 * its event loop: a folder of 100 files took over half a second to read between requests.
 */
async function inOrder<T>(paths: readonly string[], read: (path: string) => Promise<T>): Promise<T[]> {
  const settled = new Array<{ ok: true; value: T } | { ok: false; err: unknown }>(paths.length);
  let next = 0;
  const reader = async (): Promise<void> => {
    for (let i = next++; i < paths.length; i = next++) {
      settled[i] = await read(paths[i]).then(
        (value) => ({ ok: true as const, value }),
        (err: unknown) => ({ ok: false as const, err }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_WIDTH, paths.length) }, reader));
  return settled.map((s) => {
    if (!s.ok) throw s.err;
    return s.value;
  });
}

/**
 * Symbolic links are followed — Kubernetes mounts a ConfigMap as links into a hidden
 * `..data` folder — and a broken link to a policy file is an error, never a policy quietly
 * left out. A folder reached twice through links is read once.
 */
async function walk(top: string, dir: string, found: string[], seen: Set<string>): Promise<string[]> {
  const real = await realpath(dir);
  if (seen.has(real)) return found;
  seen.add(real);
  if (seen.size > MAX_FOLDERS) throw new FolderError(`more than ${MAX_FOLDERS} folders under \`${top}\`: is it a policies folder?`);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    let isDirectory = entry.isDirectory();
    let isFile = entry.isFile();
    // A name that is not UTF-8 reads back with U+FFFD in it, a path that does not exist: said as such, not "it does not exist".
    if (entry.name.includes('\uFFFD') && (isDirectory || wanted(top, path)) && (await lstat(path).catch(() => null)) === null) {
      throw new FolderError(`a name in \`${dir}\` is not UTF-8 (shown as \`${entry.name}\`): rename it`);
    }
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => null);
      if (target === null) {
        if (wanted(top, path)) throw new FolderError(`\`${path}\` is a broken symbolic link`);
        continue;
      }
      [isDirectory, isFile] = [target.isDirectory(), target.isFile()];
    }
    if (isDirectory) await walk(top, path, found, seen).catch((err: unknown) => rethrow(err, path));
    else if (isFile && wanted(top, path)) found.push(path);
    if (found.length > MAX_FILES) throw new FolderError(`more than ${MAX_FILES} policy files under \`${top}\``);
  }
  return found;
}

async function readText(path: string, budget: { left: number; dir: string }): Promise<string> {
  try {
    // A file too large to be a policy file is refused before it is read into memory (UTF-8
    // takes at most four bytes a character; the parser then checks the exact limit).
    const { size } = await stat(path);
    if (size > PARSE_LIMITS.fileBytes * 4) throw new FolderError(`\`${path}\` is ${size} bytes, more than a policy file may be (${PARSE_LIMITS.fileBytes} characters)`);
    if ((budget.left -= size) < 0) throw new FolderError(`the files under \`${budget.dir}\` add up to more than ${MAX_FOLDER_BYTES >> 20} MiB, more than a policies folder may hold (is it one?)`);
    const bytes = await readFile(path);
    // Decoded leniently, a Latin-1 `é` would become U+FFFD: a policy comparing "café" would
    // quietly compare something else, and `gavel fmt` would write the replacement back.
    if (!isUtf8(bytes)) throw new FolderError(`\`${path}\` is not UTF-8 text (line ${firstBadLine(bytes)}): save it as UTF-8`);
    return bytes.toString('utf8');
  } catch (err: unknown) {
    if (err instanceof FolderError) throw err;
    throw new FolderError(`cannot read \`${path}\`: ${whyUnreadable(err)}`, err);
  }
}

/** The 1-based line holding the first byte that is not UTF-8. */
function firstBadLine(bytes: Buffer): number {
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    if (!isUtf8(bytes.subarray(start, i))) return line;
    line++;
    start = i + 1;
  }
  return line;
}

function rethrow(err: unknown, path: string): never {
  throw err instanceof FolderError ? err : new FolderError(`cannot read \`${path}\`: ${whyUnreadable(err)}`, err);
}

