import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { TrustedProxies } from '../../src/signals/client-address.js';

const proxies = new TrustedProxies(['10.0.0.0/8', '2001:db8:ffff::/48', '127.0.0.1/32']);

describe('the client address', () => {
  test('without trusted proxies, the socket peer is the client whatever the headers say', () => {
    const none = new TrustedProxies([]);
    expect(none.clientAddress('203.0.113.9', ['1.2.3.4'])).toBe('203.0.113.9');
  });

  test("a link-local peer's zone id is not part of its address: it matches ranges, and is one client on every interface", () => {
    expect(new TrustedProxies([]).clientAddress('fe80::1%eth0', [])).toBe('fe80::1');
    expect(new TrustedProxies(['fe80::/10']).clientAddress('fe80::1%lo', ['198.51.100.7'])).toBe('198.51.100.7');
  });

  test('a spoofed X-Forwarded-For from an untrusted peer is ignored', () => {
    expect(proxies.clientAddress('203.0.113.9', ['1.2.3.4'])).toBe('203.0.113.9');
    expect(proxies.clientAddress('203.0.113.9', ['10.0.0.1'])).toBe('203.0.113.9');
  });

  test('from a trusted proxy, the right-most untrusted hop is the client; what the client wrote to its left is not believed', () => {
    expect(proxies.clientAddress('10.1.1.1', ['198.51.100.7'])).toBe('198.51.100.7');
    // The client sent "X-Forwarded-For: 1.2.3.4"; its proxy appended the real address, then an inner proxy its own.
    expect(proxies.clientAddress('10.1.1.1', ['1.2.3.4, 198.51.100.7, 10.2.2.2'])).toBe('198.51.100.7');
    // Repeated headers count as one list, in order.
    expect(proxies.clientAddress('10.1.1.1', ['1.2.3.4', '198.51.100.7'])).toBe('198.51.100.7');
  });

  test('when every hop is trusted, the left-most is the client; without the header, the peer', () => {
    expect(proxies.clientAddress('10.1.1.1', ['10.9.9.9, 10.2.2.2'])).toBe('10.9.9.9');
    expect(proxies.clientAddress('10.1.1.1', [])).toBe('10.1.1.1');
  });

  test('garbage in a hop ends the walk at the last address that could be vouched for', () => {
    expect(proxies.clientAddress('10.1.1.1', ['198.51.100.7, unknown'])).toBe('10.1.1.1');
    expect(proxies.clientAddress('10.1.1.1', ['not-an-ip, 198.51.100.7'])).toBe('198.51.100.7');
  });

  test('addresses come back canonical: IPv4-mapped IPv6 as IPv4, ports and brackets removed', () => {
    expect(proxies.clientAddress('::ffff:127.0.0.2', [])).toBe('127.0.0.2');
    expect(proxies.clientAddress('::ffff:10.1.1.1', ['198.51.100.7:4711'])).toBe('198.51.100.7');
    expect(proxies.clientAddress('2001:db8:ffff::1', ['[2001:DB8::7]:443'])).toBe('2001:db8::7');
  });

  test('RFC 7239 Forwarded, when configured instead: for= values, quoted IPv6 with a port', () => {
    const fwd = new TrustedProxies(['10.0.0.0/8'], 'forwarded');
    expect(fwd.clientAddress('10.1.1.1', ['for=1.2.3.4, for="[2001:db8:cafe::17]:4711";proto=https, for=10.3.3.3'])).toBe('2001:db8:cafe::17');
    expect(fwd.clientAddress('10.1.1.1', ['for=_hidden'])).toBe('10.1.1.1');
  });

  test('invalid proxy ranges are reported with their position', () => {
    expect(TrustedProxies.problems(['10.0.0.0/8', '10.0.0.1/8', 'nope'], 'trusted_proxies')).toEqual([
      'trusted_proxies[1]: `10.0.0.1/8` has host bits set; did you mean `10.0.0.0/8`?',
      'trusted_proxies[2]: `nope` is not an IP address or CIDR range',
    ]);
  });

  test('an untrusted peer is always the answer, whatever it sends', () => {
    const v4 = fc.tuple(fc.integer({ min: 11, max: 223 }), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    fc.assert(fc.property(v4, fc.array(fc.string()), (peer, headers) => proxies.clientAddress(peer, headers) === peer));
  });
});
