import { PassThrough } from 'node:stream';
import { describe, expect, test, vi } from 'vitest';
import { untrustedForwarders } from '../../src/cli/commands/serve.js';
import { TrustedProxies } from '../../src/signals/client-address.js';
import { ServerLog } from '../../src/server/server-log.js';

function capture() {
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const io = new ServerLog({ stdout: new PassThrough(), stderr });
  return { io, lines: () => text.split('\n').filter((l) => l !== '') };
}

describe('the warning about peers that forward addresses without being trusted', () => {
  test('once per peer; the hint to trust it only for a peer on a local network', () => {
    const { io, lines } = capture();
    const warn = untrustedForwarders(new TrustedProxies([]), io);
    warn('10.1.2.3');
    warn('10.1.2.3');
    warn('203.0.113.7');
    expect(lines()).toHaveLength(2);
    expect(lines()[0]).toContain('add --trusted-proxy 10.1.2.3/32');
    // An internet peer sending the header is more likely a client choosing its address: no advice to trust it.
    expect(lines()[1]).toMatch(/^gavel: warning: 203\.0\.113\.7 sends X-Forwarded-For, which is ignored: .*included\)$/);
  });

  test('at most 16 peers an hour; those left unsaid are counted when the hour ends', () => {
    vi.useFakeTimers();
    try {
      const { io, lines } = capture();
      const warn = untrustedForwarders(new TrustedProxies([]), io);
      for (let i = 0; i < 40; i++) warn(`198.51.100.${i}`);
      expect(lines()).toHaveLength(16);
      vi.advanceTimersByTime(3_600_000);
      warn('198.51.100.200');
      expect(lines().slice(16)).toEqual([expect.stringContaining('in the last hour 24 more requests came with X-Forwarded-For'), expect.stringContaining('198.51.100.200 sends')]);
    } finally {
      vi.useRealTimers();
    }
  });
});
