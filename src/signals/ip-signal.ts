import type { Value } from '../language/eval/value.js';
import type { IpReputation } from './ip/ip-reputation.js';
import type { SignalProvider } from './signals.js';

/**
 * `risk.ip`: `{reputation, lists, labels}` of the client's address, from the lists loaded
 * now (`current` is read per request, so a reload applies to the next request).
 */
export function ipSignal(current: () => IpReputation): SignalProvider {
  return {
    name: 'ip',
    read: (observed) => {
      if (observed.address === null) throw new Error('the client address is unknown');
      const found = current().lookup(observed.address);
      if (found === null) throw new Error(`\`${observed.address}\` is not an IP address`);
      // Frozen and shared between requests: policies only read it.
      return found as unknown as Value;
    },
  };
}
