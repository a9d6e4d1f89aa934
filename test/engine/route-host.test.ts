import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { routeHost } from '../../src/engine/route-host.js';

describe('the host a gateway call is decided on', () => {
  test.each([
    ['internal.example.com', 'https', 'internal.example.com'],
    ['INTERNAL.Example.COM', 'https', 'internal.example.com'],
    ['internal.example.com.', 'https', 'internal.example.com'],
    ['internal.example.com:443', 'https', 'internal.example.com'],
    ['internal.example.com:80', 'http', 'internal.example.com'],
    ['internal.example.com:', 'http', 'internal.example.com'],
    ['internal.example.com:0443', 'https', 'internal.example.com'],
    ['Internal.Example.com.:443', 'https', 'internal.example.com'],
    // Another port names another origin: kept (the default of the other scheme too).
    ['api.example.com:8443', 'https', 'api.example.com:8443'],
    ['api.example.com:80', 'https', 'api.example.com:80'],
    ['api.example.com:443', 'http', 'api.example.com:443'],
    ['[2001:DB8::1]:443', 'https', '[2001:db8::1]'],
    ['[2001:db8::1]:8080', 'http', '[2001:db8::1]:8080'],
    ['10.0.0.1:80', 'http', '10.0.0.1'],
    ['', 'http', ''],
    // What no server would take as a host is left as written, for policies to deny.
    ['a:b:c', 'http', 'a:b:c'],
    ['[::1', 'http', '[::1'],
  ])('%s over %s is %s', (raw, scheme, expected) => {
    expect(routeHost(raw, scheme)).toBe(expected);
  });

  test('every spelling of one origin is one host: case, a trailing dot and the default port change nothing', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), fc.constantFrom('http', 'https'), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), fc.boolean(), fc.boolean(), (labels, scheme, upper, dot, port) => {
        const name = labels.join('.');
        const spelt = [...name].map((c, i) => (upper[i % 64] ? c.toUpperCase() : c)).join('') + (dot ? '.' : '') + (port ? (scheme === 'https' ? ':443' : ':80') : '');
        expect(routeHost(spelt, scheme)).toBe(name);
        // Normalising twice changes nothing more.
        expect(routeHost(routeHost(spelt, scheme), scheme)).toBe(name);
      }),
    );
  });
});
