import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { whyUnreadable } from '../formats/file-error.js';
import { readJson } from '../formats/json-error.js';
import { UsageError } from './io.js';

/** A JSON document named on the command line (`gavel apply FILE.json`), or a usage error saying where it broke. */
export async function readJsonDocument(cwd: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), 'utf8');
  } catch (err: unknown) {
    throw new UsageError(`cannot read \`${file}\`: ${whyUnreadable(err)}`);
  }
  const read = readJson(text);
  if ('problem' in read) throw new UsageError(`${file}:${read.problem.line}:${read.problem.col}: not valid JSON: ${read.problem.message}`);
  return read.value;
}
