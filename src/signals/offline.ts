import type { Request } from '../language/eval/activation.js';
import { Velocity } from './velocity.js';

type Json = { [k: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every velocity counter at 0: what a fresh server has observed. */
const QUIET = new Velocity().read({});

/**
 * A request for the offline tools (`gavel eval`, `gavel test`), which take `risk` from the
 * request. Velocity counts what a server observed; offline nothing was, so counters the
 * request does not give are 0 — a test sets only the ones it is about. Other signals are
 * not invented: without `risk.ip` a policy reading it fails closed, as on a server whose
 * lists cannot answer.
 */
export function offlineRequest(request: Request): Request {
  const risk = isObject(request.risk) ? request.risk : {};
  const velocity = isObject(risk.velocity) ? risk.velocity : {};
  return { ...request, risk: { ...risk, velocity: { ...QUIET, ...velocity } } };
}
