import type { Root } from '../ast.js';
import { isRecord, own, type Record, type Value } from './value.js';

/**
 * The request as policies see it: the six roots. In AuthZEN shape, `subject`, `resource`
 * and `action` are `{type, id, properties}` / `{name, properties}`; any other shape is
 * accepted too and simply lacks what it lacks.
 */
export interface Request {
  subject?: unknown;
  action?: unknown;
  resource?: unknown;
  context?: unknown;
  token?: unknown;
  risk?: unknown;
}

/**
 * A root whose members are computed when first read (a server's `risk`: an IP lookup only
 * for the policies that read `risk.ip`). Never a record itself, so reading it costs the
 * plain roots nothing: the check runs only where a record was not found.
 */
export abstract class LazyRoot {
  /** The member, computed at most once; `undefined` when it cannot be. */
  abstract member(name: string): Value | undefined;
  /** Every member, for a policy that reads the root as a whole. */
  abstract all(): Record;
}

/**
 * One evaluation's view of a request, with per-request caches. Created per decision and
 * never shared, so nothing leaks between requests.
 */
export class Activation {
  private scopes: Value[] | undefined;
  constructor(readonly request: Request) {}

  /** `token.scope` arrives as a JWT's space-delimited string; policies see a set. */
  tokenScope(): Value | undefined {
    const token = this.request.token;
    if (!isRecord(token)) return undefined;
    const raw = own(token, 'scope');
    if (typeof raw !== 'string') return raw;
    return (this.scopes ??= raw.split(' ').filter((s) => s !== ''));
  }

  /** The first attribute under a root, with the flattening rules of docs/language.md. */
  attr(root: Root, name: string): Value | undefined {
    const value = this.request[root];
    if (!isRecord(value)) {
      if (value instanceof LazyRoot) return value.member(name);
      return root === 'action' && name === 'name' && typeof value === 'string' ? value : undefined;
    }
    switch (root) {
      case 'subject':
      case 'resource':
      case 'action':
        return entityAttr(value, name, root === 'action');
      case 'token':
        return name === 'scope' ? this.tokenScope() : own(value, name);
      default:
        return own(value, name);
    }
  }
}

/**
 * `subject.department` reads `subject.properties.department`; `type`, `id` and `name` are
 * read from the entity itself. An attribute sent beside `properties` is read when
 * `properties` does not have it, so flat native requests work too.
 */
export function entityAttr(entity: { readonly [k: string]: Value }, name: string, isAction = false): Value | undefined {
  // An action is identified by its `name`; a subject or resource by `type` and `id`, and
  // its `name` (a display name, say) is an ordinary property.
  if (isAction ? name === 'name' : name === 'type' || name === 'id') return own(entity, name);
  const props = own(entity, 'properties');
  if (isRecord(props) && Object.hasOwn(props, name)) return props[name];
  return name === 'properties' ? undefined : own(entity, name);
}

/** Whether the space-delimited `list` holds `word`: `token.scope contains "x"` without splitting. */
export function spaceListHas(list: string, word: string): boolean {
  if (word === '' || word.includes(' ')) return false;
  let at = list.indexOf(word);
  while (at >= 0) {
    const end = at + word.length;
    if ((at === 0 || list.charCodeAt(at - 1) === 32) && (end === list.length || list.charCodeAt(end) === 32)) return true;
    at = list.indexOf(word, at + 1);
  }
  return false;
}
