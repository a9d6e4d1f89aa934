/**
 * IP reputation lists: the `risk.ip` signal. Operators keep block lists and scored
 * reputation feeds as files (FireHOL netsets, Spamhaus DROP, `cidr,score,label` CSV);
 * Gavel loads them, answers lookups by longest-prefix match and reloads them when they
 * change.
 *
 * ```ts
 * const opened = await LiveIpLists.open([{ name: 'spamhaus-drop', path: '/etc/gavel/drop.txt' }]);
 * if (!opened.ok) throw new Error(opened.errors.join('\n'));
 * await opened.lists.watch();
 * opened.lists.lookup('192.0.2.1'); // { reputation: 100, lists: ['spamhaus-drop'], labels: [] }
 * ```
 *
 * `reputation` is the lowest score among the scored lists holding the address (100 when
 * none does); `lists` names every list holding it; `labels` are the labels of each scored
 * list's longest matching prefix. Answers are frozen and shared.
 */
export { IpReputation, DEFAULT_REPUTATION, type IpSignals, type IpReputationStats, type LoadedList } from './ip-reputation.js';
export {
  LiveIpLists,
  type LiveIpListsOptions,
  type IpListsReloadReport,
  type IpListStatus,
  type IpListsStatus,
  type OpenIpListsResult,
} from './live-ip-lists.js';
export { IP_LIST_NAME, resolveIpListConfigs, type IpListConfig, type ResolvedIpListConfig } from './list-config.js';
export {
  parseIpList,
  formatForPath,
  DEFAULT_IP_LIST_LIMITS,
  IP_LIST_FORMATS,
  type IpListFormat,
  type IpListLimits,
  type IpListContent,
  type ParseIpListResult,
} from './list-format.js';
export { readListFile, parseListFile, type ListFile } from './load-list.js';
