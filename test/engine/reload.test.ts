import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { buildPolicySet, decide } from '../../src/index.js';
import { buildPolicySetInSlices } from '../../src/engine/policy-set.js';
import { LivePolicySet } from '../../src/engine/live-set.js';
import { PolicyReloader } from '../../src/engine/reload.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const request = { subject: { type: 'user', id: 'u' }, action: { name: 'read' }, resource: { type: 'doc', id: '1' } };

/** Whether `check` holds within `ms`, polled every 10 ms. */
const until = (check: () => boolean, ms = 8_000) =>
  new Promise<boolean>((resolve) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (check() || Date.now() - started > ms) {
        clearInterval(poll);
        resolve(check());
      }
    }, 10);
  });

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

  test("the watch's first look, finding the folder as loaded, is not reported; later outcomes are", async () => {
    dir = mkdtempSync(join(tmpdir(), 'gavel-reload-'));
    writeFileSync(join(dir, 'a.gavel'), '@id("deny") forbid;');
    const live = new LivePolicySet(buildPolicySet([{ file: 'a.gavel', text: '@id("deny") forbid;' }]).set!);
    const outcomes: string[] = [];
    const reloader = new PolicyReloader(dir, live, (o) => outcomes.push(o.result), 20);
    try {
      reloader.watch();
      // Past the first look (the file is left alone for the settle time first).
      await new Promise((r) => setTimeout(r, 800));
      writeFileSync(join(dir, 'a.gavel'), '@id("allow") permit;');
      expect(await until(() => outcomes.length > 0)).toBe(true);
      expect(outcomes).toEqual(['applied']);
      await reloader.reload();
      expect(outcomes).toEqual(['applied', 'unchanged']);
    } finally {
      reloader.close();
    }
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

/** `n` policies over `n` resource types, one of them `doc`: a set that takes a while to build. */
function manyPolicies(n: number, effect: 'permit' | 'forbid'): string {
  const rules = [`@id("doc") ${effect} (action == "read", resource.type == "doc") when { subject.id == "u" };`];
  for (let i = 1; i < n; i++) rules.push(`@id("p${i}") permit (action in ["read", "list"], resource.type == "t${i}") when { subject.department == resource.department && token.scope contains "t${i}:read" };`);
  return rules.join('\n');
}

/** What `work` answers, and how many turns the event loop took while it ran. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let ticking = true;
  const tick = () => {
    turns++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  ticking = false;
  return { result, turns };
}

describe('large sets are built between requests', () => {
  test('a sliced build gives the event loop back between policies and builds the same set', async () => {
    const sources = [
      { file: 'a.gavel', text: manyPolicies(300, 'permit') },
      { file: 'b.gavel', text: '@id("late") forbid when { context.late == true };' },
    ];
    const { result: sliced, turns } = await turnsDuring(() => buildPolicySetInSlices(sources, null, 0));
    // With no time to a slice, every policy is a slice: the loop ran between them.
    expect(turns).toBeGreaterThanOrEqual(300);
    const whole = buildPolicySet(sources);
    expect(sliced.set!.revision).toBe(whole.set!.revision);
    expect(sliced.set!.policies.map((p) => p.id)).toEqual(whole.set!.policies.map((p) => p.id));
    expect(decide(sliced.set!, request)).toEqual(decide(whole.set!, request));
  });

  test('a broken set is read in slices too: every policy read is a step, parsed or not, duplicate or not', async () => {
    // Every fifth policy broken: 40 errors, fewer than a file reports before it stops reading.
    const broken = Array.from({ length: 200 }, (_, i) => (i % 5 === 0 ? `@id("p${i}") permit when { subject.id == };` : `@id("p${i}") permit;`)).join('\n');
    const duplicated = Array.from({ length: 200 }, (_, i) => `@id("d${i}") permit;`).join('\n');
    for (const sources of [[{ file: 'a.gavel', text: broken }], [{ file: 'a.gavel', text: duplicated }, { file: 'b.gavel', text: duplicated }]]) {
      const { result, turns } = await turnsDuring(() => buildPolicySetInSlices(sources, null, 0));
      expect(result.set).toBeNull();
      expect(turns).toBeGreaterThanOrEqual(200);
    }
  });

  test('a file with more errors than are reported is not read past them', async () => {
    const broken = Array.from({ length: 200 }, (_, i) => `@id("p${i}") permit when { subject.id == };`).join('\n');
    const { result, turns } = await turnsDuring(() => buildPolicySetInSlices([{ file: 'a.gavel', text: broken }], null, 0));
    expect(result.set).toBeNull();
    expect(result.diagnostics.map((d) => d.message)).toContain('too many errors; stopped after 50');
    expect(turns).toBeLessThan(100);
  });

  test('a sliced build reports the same diagnostics as a whole one', async () => {
    const sources = [
      { file: 'a.gavel', text: `${manyPolicies(50, 'permit')}\n@id("p3") permit;\npermit when { nope };` },
      { file: 'b.gavel', text: 'permit when {' },
    ];
    const sliced = await buildPolicySetInSlices(sources, null, 0);
    expect(sliced.set).toBeNull();
    expect(sliced.diagnostics.length).toBeGreaterThanOrEqual(3);
    expect(sliced.diagnostics).toEqual(buildPolicySet(sources).diagnostics);
  });

  test('while a reload of thousands of policies compiles, requests are decided by the revision before it', async () => {
    const { live } = setup(manyPolicies(3_000, 'forbid'));
    // No time to a slice: every policy compiled is a turn of the event loop.
    const reloader = new PolicyReloader(dir, live, () => {}, 20, () => {}, 0);
    const before = live.current.revision;
    writeFileSync(join(dir, 'a.gavel'), manyPolicies(3_000, 'permit'));
    const seen: boolean[] = [];
    let done = false;
    const poll = () => {
      if (done) return;
      seen.push(decide(live.current, request).decision);
      setImmediate(poll);
    };
    setImmediate(poll);
    const outcome = await reloader.reload();
    done = true;
    expect(outcome).toMatchObject({ result: 'applied' });
    expect(live.current.revision).not.toBe(before);
    expect(decide(live.current, request)).toMatchObject({ decision: true, determining: ['doc'] });
    // Requests kept being answered during the build, a turn for each policy (not one stall for
    // the whole build), and never by half a set.
    expect(seen.filter((d) => !d).length).toBeGreaterThanOrEqual(3_000);
    expect(seen.indexOf(true) === -1 || seen.slice(seen.indexOf(true)).every((d) => d)).toBe(true);
  });
});

describe('explicit reloads (SIGHUP, POST /v1/reload) during a reload under way', () => {
  test('answer for the folder as it was when asked, not for the run begun before', async () => {
    const { live } = setup(manyPolicies(3_000, 'forbid'));
    const reloader = new PolicyReloader(dir, live, () => {}, 20, () => {}, 0);
    writeFileSync(join(dir, 'a.gavel'), manyPolicies(3_000, 'permit'));
    const first = reloader.reload();
    // The first run has read the folder and is building when the deploy writes again and asks.
    await new Promise((resolve) => setTimeout(resolve, 40));
    writeFileSync(join(dir, 'a.gavel'), `${manyPolicies(3_000, 'permit')}\n@id("late") permit (action == "ping");`);
    const [second, third] = [reloader.reload(), reloader.reload()];
    const expected = buildPolicySet([{ file: 'a.gavel', text: `${manyPolicies(3_000, 'permit')}\n@id("late") permit (action == "ping");` }]).set!.revision;
    expect(await second).toMatchObject({ result: 'applied', revision: expected });
    expect(await third).toMatchObject({ revision: expected });
    expect((await first).result).toBe('applied');
    expect((await first as { revision: string }).revision).not.toBe(expected);
    expect(live.current.revision).toBe(expected);
  });
});

describe('watching, as editors and deploy scripts write', () => {
  const ids = (live: LivePolicySet) => decide(live.current, request).determining;

  test('a file replaced by a rename (sed -i, an editor\'s save) is picked up every time, not only the first', async () => {
    const { live, reloader } = setup('@id("v1") forbid;');
    reloader.watch();
    try {
      for (const [version, effect] of [['v2', 'permit'], ['v3', 'forbid'], ['v4', 'permit']]) {
        writeFileSync(join(dir, '.a.gavel.tmp'), `@id("${version}") ${effect};`);
        renameSync(join(dir, '.a.gavel.tmp'), join(dir, 'a.gavel'));
        expect(await until(() => ids(live)[0] === version), version).toBe(true);
      }
    } finally {
      reloader.close();
    }
  });

  test('the policies folder replaced whole is picked up, and so are edits to the new one', async () => {
    const { live, reloader } = setup('@id("old") forbid;');
    reloader.watch();
    try {
      const next = `${dir}.next`;
      mkdirSync(next);
      writeFileSync(join(next, 'a.gavel'), '@id("new") permit;');
      renameSync(dir, `${dir}.old`);
      renameSync(next, dir);
      rmSync(`${dir}.old`, { recursive: true });
      expect(await until(() => ids(live)[0] === 'new')).toBe(true);
      writeFileSync(join(dir, 'a.gavel'), '@id("edited") permit;');
      expect(await until(() => ids(live)[0] === 'edited')).toBe(true);
    } finally {
      reloader.close();
    }
  });

  test('files that are not policies, written all the time beside them (a database in the folder), do not put reloads off', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gavel-reload-'));
    writeFileSync(join(dir, 'a.gavel'), '@id("v1") forbid;');
    const live = new LivePolicySet(buildPolicySet([{ file: 'a.gavel', text: '@id("v1") forbid;' }]).set!);
    const reloader = new PolicyReloader(dir, live, () => {}, 150);
    reloader.watch();
    let n = 0;
    const noise = setInterval(() => writeFileSync(join(dir, 'gavel.db-wal'), String(n++)), 40);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      writeFileSync(join(dir, 'a.gavel'), '@id("v2") permit;');
      expect(await until(() => ids(live)[0] === 'v2', 6_000)).toBe(true);
    } finally {
      clearInterval(noise);
      reloader.close();
    }
  });

  test('a file added in a new subfolder is picked up', async () => {
    const { live, reloader } = setup('// nothing yet\n');
    reloader.watch();
    try {
      mkdirSync(join(dir, 'team'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      writeFileSync(join(dir, 'team', 'b.gavel'), '@id("team") permit;');
      expect(await until(() => ids(live)[0] === 'team')).toBe(true);
    } finally {
      reloader.close();
    }
  });
});

describe('a policies folder mounted from a Kubernetes ConfigMap', () => {
  /**
   * What kubelet's atomic writer does on each update: the files live in a timestamped hidden
   * folder, `..data` links to it and each visible file links through `..data`; an update
   * writes a new folder, renames a new `..data` link over the old one and removes the old
   * folder (a watched folder vanishing under the watcher).
   */
  function configMap(text: string) {
    dir = mkdtempSync(join(tmpdir(), 'gavel-configmap-'));
    mkdirSync(join(dir, '..2026_01'));
    writeFileSync(join(dir, '..2026_01', 'main.gavel'), text);
    symlinkSync('..2026_01', join(dir, '..data'));
    symlinkSync(join('..data', 'main.gavel'), join(dir, 'main.gavel'));
    const live = new LivePolicySet(buildPolicySet([{ file: 'main.gavel', text }]).set!);
    let version = 1;
    const update = (next: string) => {
      const previous = `..2026_0${version}`;
      const folder = `..2026_0${++version}`;
      mkdirSync(join(dir, folder));
      writeFileSync(join(dir, folder, 'main.gavel'), next);
      symlinkSync(folder, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      rmSync(join(dir, previous), { recursive: true });
    };
    return { live, update, reloader: new PolicyReloader(dir, live, () => {}, 20) };
  }

  test('every update is picked up by the watcher, not only the first', async () => {
    const { live, update, reloader } = configMap('@id("v1") forbid;');
    reloader.watch();
    try {
      update('@id("v2") permit;');
      expect(await until(() => decide(live.current, request).determining[0] === 'v2')).toBe(true);
      update('@id("v3") forbid;');
      expect(await until(() => decide(live.current, request).determining[0] === 'v3')).toBe(true);
      update('@id("v4") permit;');
      expect(await until(() => decide(live.current, request).determining[0] === 'v4')).toBe(true);
    } finally {
      reloader.close();
    }
    // The visible file, read through `..data`, is the one policy: the hidden folders are not read twice.
    expect(decide(live.current, request)).toMatchObject({ decision: true, determining: ['v4'] });
  });
});
