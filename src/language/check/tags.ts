/**
 * What a policy tag may hold: letters and digits of any script and `_ . : / -`, 1 to 100 of
 * them. A tag is one word of a list that tables, CSV exports and filters write with `,`, `;`
 * and spaces between tags: a tag holding one could not be read back as itself.
 */
const TAG = /^[\p{L}\p{N}_.:/-]{1,100}$/u;
const NOT_TAG = /[^\p{L}\p{N}_.:/-]+/gu;

/** Why `tag` is not a tag, or null when it is one. */
export function tagProblem(tag: string): string | null {
  if (TAG.test(tag)) return null;
  return tag === '' ? 'a tag is not empty' : `tag \`${tag}\` may use only letters, digits and \`_ . : / -\` (at most 100): tables and CSV exports separate tags with \`,\`, \`;\` and spaces`;
}

/** Free text ("Pet Store") as a tag: each run of other characters made `-` ("Pet-Store"), at most 100; null when nothing is left. */
export function asTag(text: string): string | null {
  const tag = text.replace(NOT_TAG, '-').replace(/^-+|-+$/g, '').slice(0, 100);
  return tag === '' ? null : tag;
}
