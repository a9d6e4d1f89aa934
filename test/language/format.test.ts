import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { format } from '../../src/language/format/format.js';

const dir = join(import.meta.dirname, '..', 'golden', 'format');

describe('gavel fmt', () => {
  test('lays out policies canonically and keeps every comment (golden file)', async () => {
    const input = readFileSync(join(dir, 'comments.gavel'), 'utf8');
    const { text, diagnostics } = format('comments.gavel', input);
    expect(diagnostics).toEqual([]);
    await expect(text).toMatchFileSnapshot(join(dir, 'comments.formatted.gavel'));
    const comments = (s: string) => s.match(/\/\/.*$/gm)?.map((c) => c.trim()) ?? [];
    expect(comments(text)).toEqual(comments(input));
  });

  test('a file whose canonical form would break a parser limit is left as it is, with a diagnostic: formatting never makes a file that loaded fail to load', () => {
    // 34 levels as written; the parentheses formatting adds where && and || mix take it past 64.
    let e = 'context.z';
    for (let i = 0; i < 33; i++) e = `context.a || context.b && (${e})`;
    const text = `@id("deep")\npermit when { ${e} };\n`;
    const r = format('a.gavel', text);
    expect(r.text).toBe(text);
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['limit', 'left unformatted: its formatted text would break a limit (nesting is deeper than 64 levels)']]);
  });

  test('a comment at the end of the reason\'s line stays at the end of the reason', () => {
    for (const text of ['forbid when { context.a }\nreason "x" // why\n;\n', 'forbid when { context.a } reason "x" // why\n;\n']) {
      expect(format('a.gavel', text).text).toBe('forbid\nwhen { context.a }\nreason "x"; // why\n');
    }
  });

  test('a comment after `;` on a line that already ends in a comment stands on its own line: two comments never read back as one', () => {
    const once = format('a.gavel', 'permit // c1\n; // c2\n').text;
    expect(once).toBe('permit; // c1\n\n// c2\n');
    expect(format('a.gavel', once).text).toBe(once);
    // `//` inside a string is no comment: the one after `;` stays at the end of the line.
    expect(format('a.gavel', 'permit reason "a // b"; // c\n').text).toBe('permit\nreason "a // b"; // c\n');
  });

  test('a character that is invisible or changes the display stays escaped: formatting never hides what a string holds', () => {
    const text = 'permit when { subject.id == "admin\\u200b" && subject.x == "\\u202Egnp.exe" && subject.z == "\\u00ad\\u00a0\\ufeff" && subject.w == "caf\\u00e9 \\u{1F600}" };\n';
    expect(format('x.gavel', text).text).toBe(
      'permit\nwhen {\n  subject.id == "admin\\u{200b}"\n  && subject.x == "\\u{202e}gnp.exe"\n  && subject.z == "\\u{ad}\\u{a0}\\u{feff}"\n  && subject.w == "caf\u00e9 \u{1F600}"\n};\n',
    );
  });

  test('characters that show as nothing in other categories stay escaped too: variation selectors, the grapheme joiner, Hangul fillers, the braille blank', () => {
    const text = 'permit when { subject.role == "admin\\u{fe0f}\\u{e0100}\\u{34f}\\u{3164}\\u{2800}" };\n';
    expect(format('x.gavel', text).text).toBe('permit\nwhen { subject.role == "admin\\u{fe0f}\\u{e0100}\\u{34f}\\u{3164}\\u{2800}" };\n');
  });

  test('formatting formatted text changes nothing', () => {
    const once = format('x.gavel', readFileSync(join(dir, 'comments.gavel'), 'utf8')).text;
    expect(format('x.gavel', once).text).toBe(once);
  });

  test('a comment after `permit (` stays there when an annotation comes before it on the same line, on the first pass and the second', () => {
    const once = format('x.gavel', '@id("a") permit ( // c4\n  action == "GET", // c5\n  resource.type == "x"\n);\n').text;
    expect(once).toBe('@id("a")\npermit ( // c4\n  action == "GET", // c5\n  resource.type == "x"\n);\n');
    expect(format('x.gavel', once).text).toBe(once);
  });

  test('a comment after the `permit` keyword keeps to its line, before the target: formatting twice changes nothing', () => {
    const once = format('x.gavel', 'permit // c1\n(action == "GET")\nwhen { context.a };\n').text;
    expect(once).toBe('permit ( // c1\n  action == "GET"\n)\nwhen { context.a };\n');
    expect(format('x.gavel', once).text).toBe(once);
  });

  test('an empty target prints as none: `permit () when` and `permit when` mean the same, so they read the same', () => {
    const once = format('x.gavel', 'permit () when { context.a };\nforbid ( // c\n);\n').text;
    expect(once).toBe('permit\nwhen { context.a };\n\nforbid; // c\n');
    expect(format('x.gavel', once).text).toBe(once);
  });

  test('keeps explicit parentheses where `&&` and `||` mix, for readers', () => {
    expect(format('x.gavel', 'forbid when { a.b || c.d && e.f };').text).toBe('forbid\nwhen { a.b || (c.d && e.f) };\n');
  });

  test('a file that does not parse is returned unchanged with its errors', () => {
    const broken = 'permit (action == ';
    const result = format('x.gavel', broken);
    expect(result.text).toBe(broken);
    expect(result.diagnostics).toHaveLength(1);
  });

  test('a comment at the end of a line holding two policies stays with the second, the one it follows', () => {
    const once = format('x.gavel', 'permit when { context.a }; permit when { context.b }; // about b\n').text;
    expect(once).toBe('permit\nwhen { context.a };\n\npermit\nwhen { context.b }; // about b\n');
    expect(format('x.gavel', once).text).toBe(once);
  });
});
