import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { formatDiagnostic } from '../../language/diagnostic.js';
import type { LoadedList } from './ip-reputation.js';
import type { ResolvedIpListConfig } from './list-config.js';
import { DEFAULT_IP_LIST_LIMITS, parseIpList, type IpListLimits } from './list-format.js';
import { whyUnreadable } from '../../formats/file-error.js';

/** A list file's text and a digest of its bytes, which tells a reload whether it changed. */
export type ListFile = { text: string; digest: string } | { error: string };

export async function readListFile(path: string, limits: IpListLimits = DEFAULT_IP_LIST_LIMITS): Promise<ListFile> {
  const tooLarge = (size: number): ListFile => ({
    error: `${path}: error: the file is ${size.toLocaleString('en-US')} bytes, more than the limit of ${limits.maxBytes.toLocaleString('en-US')}`,
  });
  try {
    const info = await stat(path);
    if (!info.isFile()) return { error: `${path}: error: not a file` };
    if (info.size > limits.maxBytes) return tooLarge(info.size);
    const bytes = await readFile(path);
    // The file may have grown between stat and read.
    if (bytes.length > limits.maxBytes) return tooLarge(bytes.length);
    return { text: bytes.toString('utf8'), digest: createHash('sha256').update(bytes).digest('base64') };
  } catch (err: unknown) {
    return { error: `${path}: error: cannot read the file: ${whyUnreadable(err, 'no such file')}` };
  }
}

/** Parses a list file read by `readListFile`; every problem is a `FILE:LINE:COL: error: …` line. */
export function parseListFile(config: ResolvedIpListConfig, file: { text: string; digest: string }, limits: IpListLimits): { list: LoadedList; digest: string } | { errors: string[] } {
  const parsed = parseIpList(file.text, config.path, config.format, limits);
  if (parsed.content === null) return { errors: parsed.diagnostics.map(formatDiagnostic) };
  return { list: { ...parsed.content, name: config.name, path: config.path }, digest: file.digest };
}

