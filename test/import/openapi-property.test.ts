import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { buildPolicySet, decide } from '../../src/index.js';
import { readOperations } from '../../src/import/openapi/operations.js';
import { readSpec } from '../../src/import/openapi/read-spec.js';
import { routePolicies } from '../../src/import/openapi/route-policies.js';

const SCHEMES = { oauth: { type: 'oauth2', flows: {} }, oidc: { type: 'openIdConnect', openIdConnectUrl: 'https://x' }, key: { type: 'apiKey', in: 'header', name: 'k' } };
const word = fc.string({ minLength: 1, maxLength: 8 });
const scope = fc.oneof(fc.constantFrom('a', 'b', 'c', 'd'), word);
const alternative = fc.dictionary(fc.constantFrom('oauth', 'oidc', 'key'), fc.array(scope, { maxLength: 3 }), { maxKeys: 3 });
const segment = fc.oneof(fc.constantFrom('invoices', '{id}', '{a}{b}', 'x*y', 'a\\b', '"q"', 'ü'), word.map((w) => w.replace(/[/{}]/g, '')));
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => '/' + s.join('/'));
const operation = fc.record({ operationId: fc.option(word, { nil: undefined }), tags: fc.option(fc.array(word, { maxLength: 2 }), { nil: undefined }), security: fc.option(fc.array(alternative, { maxLength: 3 }), { nil: undefined }) });
const doc = fc.record({
  paths: fc.dictionary(path, fc.dictionary(fc.constantFrom('get', 'post', 'delete'), operation, { minKeys: 1, maxKeys: 2 }), { maxKeys: 4 }),
  security: fc.option(fc.array(alternative, { maxLength: 3 }), { nil: undefined }),
  title: fc.string({ maxLength: 20 }),
});

describe('import openapi on generated documents', () => {
  test('reading never throws, whatever the text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.boolean(), (text, json) => {
      const spec = readSpec(text, json);
      if (!('problems' in spec)) readOperations(spec, null);
    }));
  });

  test('the generated file always passes check, is canonical, and a token with every scope of an alternative is allowed', () => {
    fc.assert(fc.property(doc, (d) => {
      const document = { openapi: '3.1.0', info: { title: d.title, version: '1' }, paths: Object.fromEntries(Object.entries(d.paths).map(([p, ops]) => [p, Object.fromEntries(Object.entries(ops).map(([m, o]) => [m, Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))]))])), components: { securitySchemes: SCHEMES }, ...(d.security === undefined ? {} : { security: d.security }) };
      const spec = readSpec(stringify(document), false);
      if ('problems' in spec) throw new Error(JSON.stringify(spec.problems));
      const api = readOperations(spec, null);
      if ('problems' in api) throw new Error(JSON.stringify(api.problems));
      const out = routePolicies(api, 'gavel import openapi x.yaml');
      const { set, diagnostics } = buildPolicySet([{ file: 'openapi.gavel', text: out.text }]);
      expect(diagnostics).toEqual([]);
      for (const op of api.operations) {
        if (op.security.kind === 'none') continue;
        const concrete = op.path.replace(/\{[^}]*\}/g, 'v');
        for (const alt of op.security.alternatives) {
          const scopes = alt.filter((s) => s.kind !== 'apiKey').flatMap((s) => s.scopes);
          // Scopes with spaces cannot travel in a space-delimited claim; send them as a list.
          const token = { iss: 'https://i', scope: scopes };
          const request = { action: { name: op.method }, resource: { type: 'route', id: concrete, properties: { path: op.basePath + concrete } }, token };
          expect(decide(set!, request).decision).toBe(true);
        }
      }
    }), { numRuns: 150 });
  });
});
