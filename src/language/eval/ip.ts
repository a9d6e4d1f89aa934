/**
 * IP addresses and CIDR ranges, IPv4 and IPv6. Every address is held as 128 bits in four
 * 32-bit words; an IPv4 address is its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`, RFC 4291
 * §2.5.5.2), so `10.0.0.0/8` is `::ffff:10.0.0.0/104` and IPv4-mapped addresses in IPv6
 * notation match IPv4 ranges.
 */
export class IpAddress {
  readonly kindName = 'ip';
  constructor(
    readonly words: readonly [number, number, number, number],
    readonly v4: boolean,
  ) {}
  equals(other: unknown): boolean {
    return other instanceof IpAddress && sameWords(this.words, other.words);
  }
  toString(): string {
    return this.v4 ? formatV4(this.words[3]) : formatV6(this.words);
  }
}

export class Cidr {
  readonly kindName = 'cidr';
  /** `bits` counts in the 128-bit space: an IPv4 `/8` is 104. */
  constructor(
    readonly base: readonly [number, number, number, number],
    readonly bits: number,
    readonly v4: boolean,
  ) {}
  contains(ip: IpAddress): boolean {
    for (let w = 0; w < 4; w++) {
      const left = this.bits - w * 32;
      if (left <= 0) return true;
      const mask = left >= 32 ? 0xffffffff : (0xffffffff << (32 - left)) >>> 0;
      if (((ip.words[w] & mask) >>> 0) !== this.base[w]) return false;
    }
    return true;
  }
  equals(other: unknown): boolean {
    return other instanceof Cidr && other.bits === this.bits && sameWords(this.base, other.base);
  }
  toString(): string {
    return this.v4 ? `${formatV4(this.base[3])}/${this.bits - 96}` : `${formatV6(this.base)}/${this.bits}`;
  }
}

function sameWords(a: readonly number[], b: readonly number[]): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/**
 * Dotted quad in `text[from, to)` to a 32-bit number; no leading zeros (they mean octal to
 * some parsers). Bounds, not a slice, and no objects, so bulk loaders and per-request
 * lookups (IP lists) parse without allocating.
 */
export function parseV4(text: string, from = 0, to = text.length): number | null {
  let value = 0;
  let parts = 0;
  let i = from;
  while (i <= to) {
    let n = 0;
    const start = i;
    while (i < to && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) {
      n = n * 10 + text.charCodeAt(i) - 48;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || n > 255 || (digits > 1 && text.charCodeAt(start) === 48)) return null;
    value = value * 256 + n;
    parts++;
    if (i === to) break;
    if (text.charCodeAt(i) !== 46 /* . */ || parts === 4) return null;
    i++;
  }
  return parts === 4 ? value : null;
}

/**
 * The common case of `parseCidr`, for bulk loading: an IPv4 `a.b.c.d` or `a.b.c.d/n` in
 * `text[from, to)` with no host bits set, as `base * 64 + n`, without allocating. Anything
 * else (IPv6, a malformed or host-bits range) is -1: the caller then uses `parseCidr`, which
 * gives the value or the error message.
 */
export function parseV4CidrFast(text: string, from: number, to: number): number {
  let slash = from;
  while (slash < to && text.charCodeAt(slash) !== 47 /* / */) slash++;
  const base = parseV4(text, from, slash);
  if (base === null) return -1;
  let bits = 32;
  if (slash < to) {
    const digits = to - slash - 1;
    const d0 = text.charCodeAt(slash + 1) - 48;
    const d1 = text.charCodeAt(slash + 2) - 48;
    if (digits === 1 && d0 >= 0 && d0 <= 9) bits = d0;
    else if (digits === 2 && d0 >= 1 && d0 <= 3 && d1 >= 0 && d1 <= 9) bits = d0 * 10 + d1;
    else return -1;
    if (bits > 32) return -1;
  }
  const host = bits === 0 ? 0xffffffff : bits === 32 ? 0 : 0xffffffff >>> bits;
  if ((base & host) !== 0) return -1;
  return base * 64 + bits;
}

function parseV6(text: string): [number, number, number, number] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  // A dotted IPv4 tail may only end the whole address (RFC 4291 §2.2), never precede `::`.
  const groups = (part: string, last: boolean): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let k = 0; k < pieces.length; k++) {
      const piece = pieces[k];
      if (last && k === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseV4(piece);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return [0, 1, 2, 3].map((w) => ((all[2 * w] << 16) | all[2 * w + 1]) >>> 0) as [number, number, number, number];
}

export function parseIp(text: string): IpAddress | null {
  if (text.length > 45) return null;
  const v4 = parseV4(text);
  if (v4 !== null) return new IpAddress([0, 0, 0xffff, v4], true);
  const v6 = parseV6(text);
  if (v6 === null) return null;
  const mapped = v6[0] === 0 && v6[1] === 0 && v6[2] === 0xffff;
  return new IpAddress(v6, mapped);
}

/** `a.b.c.d/n` or `x::y/n`; host bits must be zero, as in routing tables and block lists. */
export function parseCidr(text: string): Cidr | { error: string } {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (ip === null) return { error: `\`${text}\` is not an IP address or CIDR range` };
  const max = ip.v4 && !text.includes(':') ? 32 : 128;
  const prefix = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > max) {
    return { error: `\`${text}\` has an invalid prefix length (0 to ${max})` };
  }
  const bits = Number(prefix) + (max === 32 ? 96 : 0);
  const range = new Cidr(ip.words, bits, max === 32);
  const masked = new Cidr(maskWords(ip.words, bits), bits, max === 32);
  if (!masked.equals(range)) return { error: `\`${text}\` has host bits set; did you mean \`${masked.toString()}\`?` };
  return masked;
}

function maskWords(words: readonly number[], bits: number): [number, number, number, number] {
  return [0, 1, 2, 3].map((w) => {
    const left = bits - w * 32;
    if (left >= 32) return words[w];
    if (left <= 0) return 0;
    return (words[w] & ((0xffffffff << (32 - left)) >>> 0)) >>> 0;
  }) as [number, number, number, number];
}

function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text: lower case, longest run of zero groups (two or more) as `::`. */
function formatV6(words: readonly number[]): string {
  const groups = words.flatMap((w) => [w >>> 16, w & 0xffff]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
