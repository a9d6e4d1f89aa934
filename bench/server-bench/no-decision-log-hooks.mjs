// @ts-check
/**
 * A module `load` hook: rewrites the one line of dist/cli/commands/serve.js that gives the
 * Decider its decision log, so that it gets `null` (no log), and prints a line the benchmark
 * waits for. If the line is not found the server fails to start, so a change to serve.ts
 * cannot silently turn this into a log-on run.
 */
const TARGET = '/dist/cli/commands/serve.js';
const FROM = 'new Decider(metrics, log, directory)';
const TO = "new Decider(metrics, (console.log('gavel-bench: decision log off'), null), directory)";

/**
 * @param {string} url
 * @param {object} context
 * @param {(url: string, context: object) => Promise<{ format?: string | null; source?: string | ArrayBuffer | ArrayBufferView | null; shortCircuit?: boolean }>} nextLoad
 */
export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (!url.endsWith(TARGET)) return result;
  const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(/** @type {ArrayBuffer} */ (result.source));
  if (!source.includes(FROM)) throw new Error(`no-decision-log: \`${FROM}\` is not in ${url}; update bench/server-bench/no-decision-log-hooks.mjs`);
  return { ...result, source: source.replace(FROM, TO) };
}
