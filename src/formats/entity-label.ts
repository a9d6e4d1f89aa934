/**
 * An entity as one line of text shows it: `user:alice`, `route:/invoices/1`; a subject without
 * an id (a gateway call without a token is `anonymous`, id "") as its type alone, not `anonymous:`.
 */
export function entityLabel(entity: { type: string; id: string }): string {
  return entity.id === '' ? entity.type : `${entity.type}:${entity.id}`;
}
