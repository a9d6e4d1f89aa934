import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { buildPolicySet, decide } from '../../src/index.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { PolicyReloader } from '../../src/engine/reload.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const request = { subject: { type: 'user', id: 'u' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };

function setup(text: string) {
  dir = mkdtempSync(join(tmpdir(), 'gavel-reload-'));
  writeFileSync(join(dir, 'a.gavel'), text);
  const live = new LivePolicySet(buildPolicySet([{ file: 'a.gavel', text }]).set!);
  return { live, reloader: new PolicyReloader(dir, live, () => {}, 20) };
}

describe('policy reload', () => {
  test('a valid change is swapped in whole', async () => {
    const { live, reloader } = setup('@id("deny") forbid;');
    expect(decide(live.current, request).decision).toBe(false);
    writeFileSync(join(dir, 'a.gavel'), '@id("allow") permit;');
    const outcome = await reloader.reload();
    expect(outcome).toMatchObject({ result: 'applied', revision: live.current.revision });
    expect(decide(live.current, request)).toMatchObject({ decision: true, determining: ['allow'] });
  });

  test('an invalid change is rejected with its diagnostics and the previous revision keeps serving', async () => {
    const { live, reloader } = setup('@id("allow") permit;');
    const before = live.current.revision;
    writeFileSync(join(dir, 'a.gavel'), '@id("allow") permit when { nope };');
    const outcome = await reloader.reload();
    expect(outcome).toMatchObject({ result: 'rejected', errors: ['a.gavel:1:28: error: unknown name `nope` (help: names are subject, action, resource, context, token, risk)'] });
    expect(live.current.revision).toBe(before);
    expect(reloader.status).toMatchObject({ rejected: 1, rejection: { result: 'rejected' } });
    // Fixing the file clears the rejection.
    writeFileSync(join(dir, 'a.gavel'), '@id("allow") permit when { true };');
    expect(await reloader.reload()).toMatchObject({ result: 'applied' });
    expect(reloader.status.rejection).toBeNull();
  });

  test('the same text again changes nothing', async () => {
    const { reloader } = setup('@id("allow") permit;');
    expect(await reloader.reload()).toMatchObject({ result: 'unchanged' });
  });

  test('watching picks up a saved file by itself', async () => {
    const { live, reloader } = setup('@id("deny") forbid;');
    const seen = new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (decide(live.current, request).decision) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    reloader.watch();
    writeFileSync(join(dir, 'b.gavel'), '@id("allow") permit;');
    writeFileSync(join(dir, 'a.gavel'), '// no more forbid\n');
    await seen;
    reloader.close();
    expect(decide(live.current, request).determining).toEqual(['allow']);
  });
});
