import { formatForPath, IP_LIST_FORMATS, type IpListFormat } from './list-format.js';

/** One configured list: policies see `name` in `risk.ip.lists`. */
export interface IpListConfig {
  readonly name: string;
  readonly path: string;
  /** Defaults by extension: `.csv` is scored, anything else plain. */
  readonly format?: IpListFormat;
}

export interface ResolvedIpListConfig {
  readonly name: string;
  readonly path: string;
  readonly format: IpListFormat;
}

/**
 * Names are what policies compare with (`risk.ip.lists contains "spamhaus-drop"`), so they
 * are kept to one plain spelling: lower-case letters, digits, `.`, `_` and `-`.
 */
export const IP_LIST_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Checks every entry and reports every problem; the configuration is usable only without any. */
export function resolveIpListConfigs(configs: readonly IpListConfig[]): { configs: ResolvedIpListConfig[]; errors: string[] } {
  const errors: string[] = [];
  const seen = new Set<string>();
  const resolved: ResolvedIpListConfig[] = [];
  configs.forEach((c, i) => {
    const where = `IP list #${i + 1}${typeof c.name === 'string' && c.name !== '' ? ` \`${c.name}\`` : ''}`;
    if (typeof c.name !== 'string' || !IP_LIST_NAME.test(c.name)) {
      errors.push(`${where}: the name must be 1 to 64 of a-z, 0-9, \`.\`, \`_\`, \`-\`, starting with a letter or digit`);
    } else if (seen.has(c.name)) {
      errors.push(`${where}: the name is used by another list`);
    }
    seen.add(c.name);
    if (typeof c.path !== 'string' || c.path === '') errors.push(`${where}: the path is empty`);
    if (c.format !== undefined && !IP_LIST_FORMATS.includes(c.format)) {
      errors.push(`${where}: the format \`${String(c.format)}\` is not one of ${IP_LIST_FORMATS.map((f) => `\`${f}\``).join(', ')}`);
    }
    resolved.push({ name: c.name, path: c.path, format: c.format ?? formatForPath(c.path ?? '') });
  });
  return { configs: errors.length === 0 ? resolved : [], errors };
}
