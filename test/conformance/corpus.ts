import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Request } from '../../src/index.js';

export interface ConformanceCase {
  name: string;
  policies: string;
  request: Request;
  expect: { decision: boolean; determining?: string[]; reasons?: string[]; errors?: string[] };
}

/** The corpus, loaded once; every transport's runner reads it through this. */
export function loadCorpus(): ConformanceCase[] {
  const doc = parse(readFileSync(join(import.meta.dirname, 'corpus.yaml'), 'utf8'), { merge: true, maxAliasCount: 1000 }) as { cases: ConformanceCase[] };
  return doc.cases;
}
