import { describe, expect, test } from 'vitest';
import { parseCidr, parseIp } from '../../src/language/eval/ip.js';

describe('IP address parsing', () => {
  test.each([
    { text: '10.1.2.3', shown: '10.1.2.3' },
    { text: '::ffff:10.1.2.3', shown: '10.1.2.3' },
    { text: '::ffff:a01:203', shown: '10.1.2.3' },
    { text: '2001:DB8::1', shown: '2001:db8::1' },
    { text: '::', shown: '::' },
    { text: '::1', shown: '::1' },
    { text: '1:2:3:4:5:6:7:8', shown: '1:2:3:4:5:6:7:8' },
    { text: '64:ff9b::192.0.2.33', shown: '64:ff9b::c000:221' },
  ])('`$text` is $shown', ({ text, shown }) => {
    expect(parseIp(text)?.toString()).toBe(shown);
  });

  test.each(['010.1.2.3', '10.1.2', '10.1.2.3.4', '256.1.1.1', '1.2.3.4::', '1::2::3', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3', '', ' 10.1.2.3', 'fe80::1%eth0', '12345::'])('`%s` is not an address', (text) => {
    expect(parseIp(text)).toBeNull();
  });
});

describe('CIDR ranges', () => {
  test.each([
    { range: '0.0.0.0/0', ip: '255.255.255.255', inside: true },
    { range: '0.0.0.0/0', ip: '::1', inside: false },
    { range: '::/0', ip: '::1', inside: true },
    { range: '10.0.0.0/8', ip: '10.255.255.255', inside: true },
    { range: '10.0.0.0/8', ip: '11.0.0.0', inside: false },
    { range: '10.0.0.0/8', ip: '::ffff:10.9.9.9', inside: true },
    { range: '192.0.2.1/32', ip: '192.0.2.1', inside: true },
    { range: '192.0.2.1/32', ip: '192.0.2.2', inside: false },
    { range: '2001:db8::/32', ip: '2001:db8:ffff::1', inside: true },
    { range: '2001:db8::1/128', ip: '2001:db8::1', inside: true },
    { range: '2001:db8::1/128', ip: '2001:db8::2', inside: false },
    { range: '2001:db8::/31', ip: '2001:db9::', inside: true },
    { range: '2001:db8::/33', ip: '2001:db8:8000::', inside: false },
  ])('$ip in $range: $inside', ({ range, ip, inside }) => {
    const cidr = parseCidr(range);
    if ('error' in cidr) throw new Error(cidr.error);
    expect(cidr.contains(parseIp(ip)!)).toBe(inside);
  });

  test.each([
    { text: '10.0.0.1/8', error: 'has host bits set; did you mean `10.0.0.0/8`?' },
    { text: '10.0.0.0/33', error: 'invalid prefix length (0 to 32)' },
    { text: '::/129', error: 'invalid prefix length (0 to 128)' },
    { text: '10.0.0.0/08', error: 'invalid prefix length' },
    { text: 'nope/8', error: 'is not an IP address or CIDR range' },
  ])('`$text` is rejected: $error', ({ text, error }) => {
    const cidr = parseCidr(text);
    expect('error' in cidr && cidr.error).toContain(error);
  });
});
