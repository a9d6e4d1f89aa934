/** `1 policy`, `3 policies`: a number and the noun it counts. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
