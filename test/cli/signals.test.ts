import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { gavel, ROOT, workspace } from './helpers.js';

let ws: ReturnType<typeof workspace> | null = null;
afterEach(() => ws?.remove());

const REPUTATION = join(ROOT, 'examples', 'lists', 'reputation.csv');

describe('gavel signals lookup', () => {
  test('answers what policies would read as risk.ip for an address, from --ip-list and the config file\'s ip_lists', async () => {
    ws = workspace();
    const flagged = await gavel(['signals', 'lookup', '198.51.100.7', '--ip-list', `reputation=${REPUTATION}`, '--json'], { cwd: ws.dir });
    expect([flagged.code, JSON.parse(flagged.stdout)]).toEqual([0, { address: '198.51.100.7', risk: { ip: { reputation: 35, lists: ['reputation'], labels: ['hosting'] } } }]);
    writeFileSync(join(ws.dir, 'gavel.json'), JSON.stringify({ ip_lists: { reputation: REPUTATION } }));
    const configured = await gavel(['signals', 'lookup', '198.51.100.7', '--config', 'gavel.json', '--json'], { cwd: ws.dir });
    expect(JSON.parse(configured.stdout)).toEqual(JSON.parse(flagged.stdout));
  });

  test("a server's environment that is wrong for this command's purpose (GAVEL_HTTP, the issuer secret) does not stop it", async () => {
    ws = workspace();
    const run = await gavel(['signals', 'lookup', '198.51.100.7', '--ip-list', `reputation=${REPUTATION}`, '--json'], { cwd: ws.dir, env: { GAVEL_HTTP: 'not-an-address', GAVEL_ISSUER_SECRET: 'short' } });
    expect([run.code, run.stderr]).toEqual([0, '']);
    expect(JSON.parse(run.stdout)).toMatchObject({ risk: { ip: { reputation: 35 } } });
  });
});
