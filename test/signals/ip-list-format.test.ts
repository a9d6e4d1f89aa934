import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { formatDiagnostic } from '../../src/language/diagnostic.js';
import { Cidr, parseCidr, parseV4CidrFast } from '../../src/language/eval/ip.js';
import { formatForPath, parseIpList, type IpListFormat } from '../../src/signals/ip/list-format.js';

function errors(text: string, format: IpListFormat, limits?: Parameters<typeof parseIpList>[3]): string[] {
  return parseIpList(text, 'list', format, limits).diagnostics.map(formatDiagnostic);
}

function entries(text: string, format: IpListFormat): number {
  const parsed = parseIpList(text, 'list', format);
  if (parsed.content === null) throw new Error(parsed.diagnostics.map(formatDiagnostic).join('\n'));
  return parsed.content.entries;
}

describe('plain lists', () => {
  test.each([
    { note: 'FireHOL netset with a header of comments', text: '#\n# firehol_level1\n#\n1.2.3.0/24\n5.6.7.8\n', count: 2 },
    { note: 'Spamhaus DROP with `;` comments', text: '; Spamhaus DROP List 2026/11/22\n1.10.16.0/20 ; SBL256894\n2.56.192.0/22 ; SBL459831\n', count: 2 },
    { note: 'trailing `#` comments and blank lines', text: '\n10.0.0.0/8   # rfc1918\n\n   \n192.168.0.0/16#x\n', count: 2 },
    { note: 'IPv6, with and without a prefix', text: '2001:db8::/32\n2001:db8::1\n::/0\n::ffff:1.2.3.4\n', count: 4 },
    { note: 'CRLF line ends and a byte-order mark', text: '\ufeff1.2.3.4\r\n5.6.7.0/24\r\n', count: 2 },
    { note: 'no final line break', text: '1.2.3.4', count: 1 },
    { note: 'only comments', text: '# nothing\n; here\n', count: 0 },
    { note: 'the same prefix twice is harmless', text: '1.2.3.4\n1.2.3.4\n', count: 2 },
  ])('$note', ({ text, count }) => {
    expect(entries(text, 'plain')).toBe(count);
  });

  test.each([
    { note: 'host bits set: rejected, never widened', text: '# ok\n10.0.0.1/8\n', error: 'list:2:1: error: `10.0.0.1/8` has host bits set; did you mean `10.0.0.0/8`? (help: list entries are never widened, as with `cidr()` in policies)' },
    { note: 'not an address', text: '1.2.3.4\n  example.com  # a host name\n', error: 'list:2:3: error: `example.com` is not an IP address or CIDR range' },
    { note: 'prefix too long for IPv4', text: '1.2.3.0/33\n', error: 'list:1:1: error: `1.2.3.0/33` has an invalid prefix length (0 to 32)' },
    { note: 'prefix too long for IPv6', text: '\n\n::/129 ; x\n', error: 'list:3:1: error: `::/129` has an invalid prefix length (0 to 128)' },
    { note: 'a range is not a prefix', text: '1.2.3.4-1.2.3.9\n', error: 'list:1:1: error: `1.2.3.4-1.2.3.9` is not an IP address or CIDR range' },
    { note: 'two addresses on a line', text: '1.2.3.4 5.6.7.8\n', error: 'list:1:9: error: unexpected `5.6.7.8` after `1.2.3.4` (help: one address or CIDR range a line; comments start with `#` or `;`)' },
    { note: 'a leading zero (octal to some parsers)', text: '010.1.2.3\n', error: 'list:1:1: error: `010.1.2.3` is not an IP address or CIDR range' },
    { note: 'an IPv6 zone', text: 'fe80::1%eth0\n', error: 'list:1:1: error: `fe80::1%eth0` is not an IP address or CIDR range' },
  ])('$note', ({ text, error }) => {
    expect(errors(text, 'plain')).toEqual([error]);
  });

  test('every malformed line is reported, with its line, and the file is rejected whole', () => {
    const parsed = parseIpList('1.2.3.4\nbad\n5.6.7.8\n1.2.3.4/16\n', 'drop.txt', 'plain');
    expect(parsed.content).toBeNull();
    expect(parsed.diagnostics.map(formatDiagnostic)).toEqual([
      'drop.txt:2:1: error: `bad` is not an IP address or CIDR range',
      'drop.txt:4:1: error: `1.2.3.4/16` has host bits set; did you mean `1.2.0.0/16`? (help: list entries are never widened, as with `cidr()` in policies)',
    ]);
  });

  test('a file of garbage stops after 100 messages', () => {
    const diagnostics = errors('x\n'.repeat(1_000), 'plain');
    expect(diagnostics).toHaveLength(101);
    expect(diagnostics[100]).toBe('list:101:1: error: more than 100 errors; stopped reading');
  });
});

describe('scored lists', () => {
  test.each([
    { note: 'with a header', text: 'cidr,score,label\n10.0.0.0/8,40,internal\n', count: 1 },
    { note: 'a header in other case and spacing', text: ' CIDR , Score , Label \n10.0.0.0/8,40,internal\n', count: 1 },
    { note: 'without a header, with comments', text: '# feed\n10.0.0.0/8,40,internal\n  # more\n2001:db8::/32,0,\n', count: 2 },
    { note: 'an empty label and spaces around fields', text: ' 10.0.0.0/8 , 0 , \n', count: 1 },
    { note: 'a quoted label with commas and quotes', text: '1.2.3.4,10,"scanner, ""aggressive"""\n', count: 1 },
    { note: 'the same prefix twice with the same score and label', text: '1.2.3.4,10,x\n1.2.3.4,10,x\n', count: 2 },
  ])('$note', ({ text, count }) => {
    expect(entries(text, 'scored')).toBe(count);
  });

  test('a quoted label keeps its commas and quotes', () => {
    const parsed = parseIpList('1.2.3.4,10,"scanner, ""aggressive"""\n', 'f.csv', 'scored');
    expect(parsed.content?.labels).toEqual(['scanner, "aggressive"']);
  });

  test.each([
    { note: 'score above 100', text: '10.0.0.0/8,101,x\n', error: 'list:1:12: error: score `101` is not an integer from 0 to 100 (help: 100 is clean, 0 is the worst)' },
    { note: 'negative score', text: '10.0.0.0/8,-1,x\n', error: 'list:1:12: error: score `-1` is not an integer from 0 to 100 (help: 100 is clean, 0 is the worst)' },
    { note: 'fractional score', text: '10.0.0.0/8,2.5,x\n', error: 'list:1:12: error: score `2.5` is not an integer from 0 to 100 (help: 100 is clean, 0 is the worst)' },
    { note: 'empty score', text: '10.0.0.0/8,,x\n', error: 'list:1:12: error: score `` is not an integer from 0 to 100 (help: 100 is clean, 0 is the worst)' },
    { note: 'two columns', text: '10.0.0.0/8,50\n', error: 'list:1:1: error: expected 3 columns `cidr,score,label`, found 2 (help: a label may hold commas when it is in double quotes)' },
    { note: 'four columns', text: '10.0.0.0/8,50,a,b\n', error: 'list:1:1: error: expected 3 columns `cidr,score,label`, found 4 (help: a label may hold commas when it is in double quotes)' },
    { note: 'a plain line in a CSV', text: '10.0.0.0/8\n', error: 'list:1:1: error: expected 3 columns `cidr,score,label`, found 1 (help: a label may hold commas when it is in double quotes)' },
    { note: 'host bits', text: 'cidr,score,label\n10.0.0.1/8,50,x\n', error: 'list:2:1: error: `10.0.0.1/8` has host bits set; did you mean `10.0.0.0/8`? (help: list entries are never widened, as with `cidr()` in policies)' },
    { note: 'an unclosed quote', text: '10.0.0.0/8,50,"x\n', error: 'list:1:1: error: a quoted field is not closed' },
    { note: 'a header after the first row', text: '10.0.0.0/8,50,x\ncidr,score,label\n', error: 'list:2:1: error: `cidr` is not an IP address or CIDR range' },
  ])('$note', ({ text, error }) => {
    expect(errors(text, 'scored')[0]).toBe(error);
  });

  test('the same prefix with another score is ambiguous, and rejected', () => {
    expect(errors('1.2.3.0/24,10,a\n5.6.7.8,1,\n1.2.3.0/24,20,a\n', 'scored')).toEqual([
      'list:3:1: error: this prefix is also on line 1, with another score or label (help: a prefix may be listed once in a scored list; the first is at list:1:1)',
    ]);
  });

  test('a repeat is reported with the file\'s other errors, in line order, not after they are fixed', () => {
    expect(errors('1.2.3.0/24,10,a\n5.6.7.8,1\n1.2.3.0/24,20,a\n', 'scored')).toEqual([
      'list:2:1: error: expected 3 columns `cidr,score,label`, found 2 (help: a label may hold commas when it is in double quotes)',
      'list:3:1: error: this prefix is also on line 1, with another score or label (help: a prefix may be listed once in a scored list; the first is at list:1:1)',
    ]);
  });

  test('a repeated prefix that covers IPv4 addresses too (::/0) is reported once, not once per address family', () => {
    expect(errors('::/0,1,a\n::/0,2,b\n', 'scored')).toEqual([
      'list:2:1: error: this prefix is also on line 1, with another score or label (help: a prefix may be listed once in a scored list; the first is at list:1:1)',
    ]);
  });

  test('an IPv4-mapped IPv6 prefix is the same prefix as its IPv4 form', () => {
    expect(errors('::ffff:1.2.3.0/120,10,a\n1.2.3.0/24,10,b\n', 'scored')).toEqual([
      'list:2:1: error: this prefix is also on line 1, with another score or label (help: a prefix may be listed once in a scored list; the first is at list:1:1)',
    ]);
  });
});

describe('limits', () => {
  const limits = { maxBytes: 1_000, maxEntries: 3, maxLineLength: 40 };

  test('too many entries stops with a limit error', () => {
    expect(errors('1.1.1.1\n2.2.2.2\n3.3.3.3\n4.4.4.4\n5.5.5.5\n', 'plain', limits)).toEqual(['list:4:1: error: more than 3 entries (help: split the list into several, each given its own name)']);
  });

  test('a long line is an error', () => {
    expect(errors(`1.1.1.1,5,${'x'.repeat(40)}\n`, 'scored', limits)).toEqual(['list:1:1: error: line is longer than 40 characters']);
  });
});

test.each([
  { path: 'feeds/reputation.csv', format: 'scored' },
  { path: 'feeds/REPUTATION.CSV', format: 'scored' },
  { path: 'firehol_level1.netset', format: 'plain' },
  { path: 'drop.txt', format: 'plain' },
  { path: 'csv', format: 'plain' },
])('`$path` is $format by its extension', ({ path, format }) => {
  expect(formatForPath(path)).toBe(format);
});

describe('the IPv4 fast path agrees with `parseCidr`', () => {
  const octet = fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.constantFrom('256', '01', '00', '', 'x', '1a'));
  const tail = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 40 }).map((n) => `/${n}`), fc.constantFrom('/', '/08', '/x', '/ 8', '/-1', '/032'));
  const text = fc.oneof(
    fc.tuple(fc.array(octet, { minLength: 1, maxLength: 5 }), tail).map(([parts, t]) => `${parts.join('.')}${t}`),
    fc.constantFrom('::ffff:1.2.3.4', '::/0', '1.2.3.4 ', '0.0.0.0/0', '255.255.255.255/32', '128.0.0.0/1', '10.0.0.1/8'),
  );

  test('on generated near-addresses: a value exactly when `parseCidr` gives an IPv4 range, and the same one', () => {
    fc.assert(
      fc.property(text, (t) => {
        const fast = parseV4CidrFast(`#${t}#`, 1, t.length + 1);
        const slow = parseCidr(t);
        if (fast < 0) expect('error' in slow ? true : !slow.v4).toBe(true);
        else expect(slow).toEqual(new Cidr([0, 0, 0xffff, Math.floor(fast / 64)], 96 + (fast % 64), true));
      }),
      { numRuns: 2_000 },
    );
  });
});
