import { T } from '../types.js';
import { Cidr, IpAddress, parseCidr, parseIp } from '../eval/ip.js';
import { typeName, type Value } from '../eval/value.js';
import { failure, type Builtin } from './builtin.js';

/** An `ip` argument may be an address value or a string holding one. */
export function toIp(v: Value): IpAddress | { error: string } {
  if (v instanceof IpAddress) return v;
  if (typeof v === 'string') return parseIp(v) ?? { error: `\`${v.slice(0, 64)}\` is not an IP address` };
  const name = typeName(v);
  return { error: `expected an IP address, got ${name === 'null' ? 'null' : `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`}` };
}

const LOOPBACK = [parseCidr('127.0.0.0/8'), parseCidr('::1/128')] as Cidr[];
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'].map(parseCidr) as Cidr[];

function ipTest(name: string, doc: string, test: (ip: IpAddress) => boolean): Builtin {
  return {
    name,
    params: [T.ip],
    returns: T.boolean,
    doc,
    impl: ([v]) => {
      const ip = toIp(v);
      return ip instanceof IpAddress ? test(ip) : failure(ip.error);
    },
  };
}

export const network: Builtin[] = [
  {
    name: 'cidr',
    params: [T.string],
    returns: T.cidr,
    doc: 'an IPv4 or IPv6 range: `context.ip in cidr("10.0.0.0/8")`',
    impl: ([v]) => {
      if (typeof v !== 'string') return failure('expected a string');
      const range = parseCidr(v);
      return range instanceof Cidr ? range : failure(range.error);
    },
  },
  {
    name: 'ip',
    // A string (which `fits` an ip parameter) or an attribute the schema types `ip`: `ip(context.ip)` is the everyday idiom.
    params: [T.ip],
    returns: T.ip,
    doc: 'an IPv4 or IPv6 address: `ip("192.0.2.1")`, `ip(context.ip)`',
    impl: ([v]) => {
      const ip = toIp(v);
      return ip instanceof IpAddress ? ip : failure(ip.error);
    },
  },
  ipTest('is_ipv4', 'whether an address is IPv4 (including IPv4-mapped IPv6)', (ip) => ip.v4),
  ipTest('is_ipv6', 'whether an address is IPv6 and not IPv4-mapped', (ip) => !ip.v4),
  ipTest('is_loopback', 'whether an address is in 127.0.0.0/8 or ::1', (ip) => LOOPBACK.some((c) => c.contains(ip))),
  ipTest('is_private', 'whether an address is in RFC 1918 space or fc00::/7', (ip) => PRIVATE.some((c) => c.contains(ip))),
];
