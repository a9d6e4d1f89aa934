import { describe, expect, test } from 'vitest';
import { Directory, DirectoryBuilder } from '../../src/engine/directory.js';
import { readDirectoryDocument } from '../../src/engine/directory-document.js';
import { buildPolicySet, decide } from '../../src/index.js';

const directory = new Directory([
  { type: 'user', id: 'alice', attributes: { roles: ['staff'], department: 'finance' } },
  { type: 'invoice', id: '7', attributes: { owner: 'alice' } },
]);
const set = buildPolicySet([{ file: 'd.gavel', text: '@id("admin") permit when { subject.roles contains "admin" };\n@id("own") permit when { resource.owner == subject.id };' }]).set!;

describe('directory enrichment', () => {
  test('directory attributes win over what the caller sends', () => {
    const sent = { subject: { type: 'user', id: 'alice', properties: { roles: ['admin'], nickname: 'al' } }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
    const enriched = directory.enrich(sent);
    expect(enriched.subject).toEqual({ type: 'user', id: 'alice', properties: { roles: ['staff'], department: 'finance', nickname: 'al' } });
    expect(decide(set, enriched).decision).toBe(false);
  });

  test('the flat form cannot override a directory attribute either', () => {
    const enriched = directory.enrich({ subject: { type: 'user', id: 'alice', roles: ['admin'] }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } });
    expect(decide(set, enriched).decision).toBe(false);
  });

  test('a type and id cannot run into another entity\'s: `user\\u0000x` + `admin` is not `user` + `x\\u0000admin`', () => {
    const d = new Directory([{ type: 'user', id: 'x\u0000admin', attributes: { roles: ['admin'] } }]);
    const forged = d.enrich({ subject: { type: 'user\u0000x', id: 'admin' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } });
    expect(forged.subject).toEqual({ type: 'user\u0000x', id: 'admin' });
    expect((d.enrich({ subject: { type: 'user', id: 'x\u0000admin' } }).subject as { properties: unknown }).properties).toEqual({ roles: ['admin'] });
  });

  test('a resource that names an entity is enriched too', () => {
    const enriched = directory.enrich({ subject: { type: 'user', id: 'alice' }, action: { name: 'read' }, resource: { type: 'invoice', id: '7' } });
    expect(decide(set, enriched)).toMatchObject({ decision: true, determining: ['own'] });
  });

  test('entities the directory does not know are left as sent', () => {
    const request = { subject: { type: 'user', id: 'bob', properties: { roles: ['admin'] } }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };
    expect(directory.enrich(request)).toBe(request);
  });
});

describe('the directory document', () => {
  test('reports every problem with its path', () => {
    expect(readDirectoryDocument({ entities: [{ type: 'user' }, { type: 'user', id: 'a', attributes: [] }, { type: 'user', id: 'a' }, 5], extra: 1 })).toEqual({
      problems: [
        'extra: unknown section; sections are entities, apis, clients, roles, groups, users',
        'entities[0].id: missing; it is required (a non-empty string)',
        'entities[1].attributes: expected an object',
        'entities[2]: user::"a" is listed twice',
        'entities[3]: expected an object with type, id and attributes',
      ],
    });
  });
});

describe('a directory built a page at a time', () => {
  test('is the directory of all the pages at once: same attributes, each type\'s ids sorted and listed once, a later entity winning', () => {
    const pages = [
      [{ type: 'user', id: 'bob', attributes: { team: 'a' } }, { type: 'user', id: 'carol', attributes: {} }],
      [{ type: 'doc', id: '2', attributes: { owner: 'bob' } }, { type: 'user', id: 'alice', attributes: { team: 'b' } }],
      [{ type: 'user', id: 'bob', attributes: { team: 'c' } }],
    ];
    const builder = new DirectoryBuilder();
    for (const page of pages) builder.add(page);
    const paged = new Directory(builder);
    const whole = new Directory(pages.flat());
    expect(paged.size).toBe(whole.size);
    expect(paged.idsOf('user')).toEqual(['alice', 'bob', 'carol']);
    expect(paged.idsOf('doc')).toEqual(whole.idsOf('doc'));
    const request = { subject: { type: 'user', id: 'bob' }, action: { name: 'read' }, resource: { type: 'doc', id: '2' } };
    expect(paged.enrich(request)).toEqual(whole.enrich(request));
    expect(paged.enrich(request).subject).toMatchObject({ properties: { team: 'c' } });
  });
});

describe('directory documents', () => {
  test('a type or id with a lone UTF-16 surrogate is refused: it cannot be stored, and two such ids read back as one', () => {
    const read = readDirectoryDocument({ entities: [{ type: 'user', id: 'a\ud800' }, { type: 'doc\udfff', id: '1' }, { type: 'user', id: 'ok \ud83d\ude00' }] });
    expect(read).toEqual({
      problems: [
        'entities[0].id: holds a lone UTF-16 surrogate (an escape like \\ud800 without its pair), which cannot be stored',
        'entities[1].type: holds a lone UTF-16 surrogate (an escape like \\ud800 without its pair), which cannot be stored',
      ],
    });
  });
});
