import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { gavel, ROOT, workspace } from './helpers.js';

const golden = join(ROOT, 'test', 'golden', 'inventory');
const fixture = 'test/golden/inventory/before';

describe('gavel policies (on a fixture folder)', () => {
  test('the table lists every policy with its annotations, target and location (golden file)', async () => {
    const r = await gavel(['policies', '--policies', fixture], { cwd: ROOT });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await expect(r.stdout).toMatchFileSnapshot(join(golden, 'policies.txt'));
  });

  test('--json rows carry conditions, reasons, other annotations and automatic ids', async () => {
    const r = await gavel(['policies', '--policies', fixture, '--json'], { cwd: ROOT });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { revision: string; policies: Record<string, unknown>[] };
    expect(out.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(out.policies.map((p) => p.id)).toEqual(['orders.read', 'orders.create', 'orders.cancel', 'orders.legacy-export', 'risk.bad-networks', 'sub/risk.gavel#2']);
    expect(out.policies[0]).toEqual({
      id: 'orders.read',
      effect: 'permit',
      tags: ['orders', 'sox'],
      owner: 'shop-team',
      description: 'Staff read orders, with an MFA login',
      target: 'action in ["GET", "HEAD"], resource.path like "/orders/**"',
      conditions: ['when { token.scope contains "orders:read" && token.acr == "mfa" }'],
      reason: null,
      annotations: {},
      file: `${fixture}/orders.gavel`,
      line: 3,
    });
    expect(out.policies[4]).toMatchObject({ id: 'risk.bad-networks', reason: 'request from a high-risk network', annotations: { reviewed: ['2024-05-01'] } });
    expect(out.policies[5]).toMatchObject({ id: 'sub/risk.gavel#2', target: '', owner: null, tags: [], line: 10 });
  });

  test.each([
    { note: 'by tag', args: ['--tag', 'sox'], ids: ['orders.read'] },
    { note: 'by owner', args: ['--owner', 'shop-team'], ids: ['orders.read', 'orders.create', 'orders.cancel'] },
    { note: 'by effect', args: ['--effect', 'forbid'], ids: ['risk.bad-networks', 'sub/risk.gavel#2'] },
    { note: 'filters combine with and', args: ['--owner', 'shop-team', '--tag', 'orders', '--effect', 'permit'], ids: ['orders.read', 'orders.create', 'orders.cancel'] },
    { note: 'nothing matches: an empty list, still success', args: ['--tag', 'nope'], ids: [] },
  ])('filters $note', async ({ args, ids }) => {
    const r = await gavel(['policies', '--policies', fixture, '--json', ...args], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { policies: { id: string }[] }).policies.map((p) => p.id)).toEqual(ids);
  });

  test('--csv quotes fields per RFC 4180 and separates tags with ";"', async () => {
    const r = await gavel(['policies', '--policies', fixture, '--csv', '--tag', 'sox'], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'id,effect,owner,tags,file,line,target,description\r\n' +
        `orders.read,permit,shop-team,orders;sox,${fixture}/orders.gavel,3,"action in [""GET"", ""HEAD""], resource.path like ""/orders/**""","Staff read orders, with an MFA login"\r\n`,
    );
  });

  test('the table says how many of how many policies it shows', async () => {
    const r = await gavel(['policies', '--policies', fixture, '--effect', 'forbid'], { cwd: ROOT });
    expect(r.stdout.split('\n').filter((l) => l !== '')).toHaveLength(4);
    expect(r.stdout).toMatch(/\n2 of 6 policies \(revision [0-9a-f]{16}\)\n$/);
  });

  test.each([
    { note: 'an unknown effect', args: ['--effect', 'allow'], message: '--effect is `permit` or `forbid`, not `allow`' },
    { note: 'both output formats', args: ['--json', '--csv'], message: 'choose one of --json and --csv' },
    { note: 'a missing folder', args: ['--policies', 'nowhere'], message: 'policies folder' },
    { note: 'an unknown flag', args: ['--bogus'], message: "Unknown option '--bogus'" },
  ])('usage errors exit 2: $note', async ({ args, message }) => {
    const r = await gavel(['policies', ...(args[0] === '--policies' ? [] : ['--policies', fixture]), ...args], { cwd: ROOT });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });
});

describe('gavel policies (on the example policies)', () => {
  let ws: ReturnType<typeof workspace>;
  beforeEach(() => {
    ws = workspace();
  });
  afterEach(() => ws.remove());

  test('lists the example set, and invalid policies are reported instead of listed (exit 1)', async () => {
    const ok = await gavel(['policies', '--tag', 'sox'], { cwd: ws.dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('invoices.read ');
    writeFileSync(join(ws.dir, 'policies', 'broken.gavel'), 'permit when { token.scpoe contains "x" };\n');
    const bad = await gavel(['policies'], { cwd: ws.dir });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('policies/broken.gavel:1:15: error: unknown attribute `token.scpoe`');
  });
});

test('policies, diff and import have --help, and the command list names them', async () => {
  for (const command of ['policies', 'diff', 'import']) {
    const r = await gavel([command, '--help'], { cwd: ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: gavel ${command}`);
  }
  const list = (await gavel(['--help'], { cwd: ROOT })).stdout;
  expect(list).toMatch(/\n {2}policies +list the policies/);
  expect(list).toMatch(/\n {2}diff +compare two policies folders/);
  expect(list).toMatch(/\n {2}import +generate route policies from an OpenAPI document/);
});
