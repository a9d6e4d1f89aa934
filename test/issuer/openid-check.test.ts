import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { buildPolicySet } from '../../src/index.js';
import { openidWarning } from '../../src/issuer/openid-check.js';
import { ROOT } from '../cli/helpers.js';

const set = (text: string) => buildPolicySet([{ file: 'p.gavel', text }]).set!;
const clients = [{ id: 'web', scopes: ['openid', 'invoice:read'] }, { id: 'batch', scopes: ['invoice:read'] }];

describe('the warning for policies that mint no openid', () => {
  test('names the clients that ask for openid when no permit can mint scope::"openid"', () => {
    expect(openidWarning(set('permit (action == "mint", resource == scope::"invoice:read");'), clients)).toBe(
      'no policy permits minting scope::"openid", so `web` will get no ID tokens and no sign-in only (add a permit like the example policies\' mint.sign-in)',
    );
  });

  test('is silent with such a permit (its conditions are the policies\' business), or when no client asks for openid', () => {
    expect(openidWarning(set('permit (action == "mint", resource == scope::"openid") when { subject.type == "user" };'), clients)).toBeNull();
    expect(openidWarning(set('permit (action == "mint", resource);'), clients)).toBeNull();
    expect(openidWarning(set('permit (action == "mint", resource == scope::"invoice:read");'), [clients[1]!])).toBeNull();
  });

  test('the example policies mint openid', () => {
    const dir = join(ROOT, 'policies');
    const files = readdirSync(dir).filter((f) => f.endsWith('.gavel')).map((f) => ({ file: f, text: readFileSync(join(dir, f), 'utf8') }));
    const built = buildPolicySet(files, { file: 'schema.json', text: readFileSync(join(dir, 'schema.json'), 'utf8') });
    expect(openidWarning(built.set!, clients)).toBeNull();
  });
});
