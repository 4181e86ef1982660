/**
 * The SSRF guard for subscription URLs. A URL is refused when it is not http(s), carries
 * credentials, or its host is — or resolves to — an address a server-side request must not reach:
 * loopback, "this network", private, carrier-grade NAT, link-local (with the cloud metadata
 * address 169.254.169.254), unique-local, IPv4-mapped/translated IPv6, documentation,
 * multicast and reserved ranges. An allowlist (TESSERA_WEBHOOK_ALLOWLIST: host names and CIDRs)
 * opens exceptions for tests and on-prem receivers.
 *
 * Checked when a subscription is written and again before every attempt. The check returns the
 * address it approved, and the sender connects to exactly that address, so a DNS answer that
 * changes between the check and the connection (rebinding) cannot swap it.
 *
 * Resolution goes through `resolveHost`, a seam: tests map names to addresses without DNS, and a
 * refusal happens before any socket is opened.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** All addresses of a host name (like `dns.lookup(host, { all: true })`). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

const BLOCKED_V4: Array<[string, number, string]> = [
  ['0.0.0.0', 8, '"this network"'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const BLOCKED_V6: Array<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  // Every IPv4 address can be written in these forms; a real receiver never needs them.
  ['::ffff:0:0', 96, 'IPv4-mapped'],
  ['::', 96, 'IPv4-compatible'],
  ['64:ff9b::', 96, 'IPv4/IPv6 translation'],
  ['64:ff9b:1::', 48, 'IPv4/IPv6 translation'],
  ['2002::', 16, '6to4'],
  ['2001::', 32, 'Teredo'],
  ['100::', 64, 'discard'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'unique-local'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

function blockList(v4: Array<[string, number, string]>, v6: Array<[string, number, string]>) {
  const list = new BlockList();
  for (const [net, prefix] of v4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of v6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

// Separate lists per family: Node's BlockList matches IPv4 input against IPv6 rules in
// ::ffff:0:0/96, which would block every IPv4 address.
const NAMED = {
  ipv4: BLOCKED_V4.map(([net, prefix, name]) => ({ name, list: blockList([[net, prefix, name]], []) })),
  ipv6: BLOCKED_V6.map(([net, prefix, name]) => ({ name, list: blockList([], [[net, prefix, name]]) })),
};

const family = (address: string): 'ipv4' | 'ipv6' => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** Which blocked range holds `address`, or undefined when it is a public address. */
export function blockedRange(address: string): string | undefined {
  const fam = family(address);
  return NAMED[fam].find((n) => n.list.check(address, fam))?.name;
}

const CIDR = /^([0-9a-f.:]+)(?:\/(\d{1,3}))?$/i;
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;

/** A host name, an IP address or a CIDR (used to validate the configuration). */
export function isAllowlistEntry(entry: string): boolean {
  const cidr = CIDR.exec(entry);
  if (cidr && isIP(cidr[1]!)) {
    if (cidr[2] === undefined) return true;
    return Number(cidr[2]) <= (isIP(cidr[1]!) === 6 ? 128 : 32);
  }
  return HOST_NAME.test(entry) && !/^[\d.]+$/.test(entry);
}

export interface SsrfGuard {
  /**
   * Resolves the URL's host and approves one address to connect to, or says why not.
   * Never throws for a bad URL; a resolver failure is `{ ok: false }` too.
   */
  check(url: string): Promise<SsrfVerdict>;
}

export type SsrfVerdict = { ok: true; url: URL; address: ResolvedAddress } | { ok: false; reason: string };

export function createSsrfGuard(options: { allowlist: readonly string[]; resolveHost?: HostResolver }): SsrfGuard {
  const resolveHost = options.resolveHost ?? systemResolver;
  const allowedHosts = new Set<string>();
  const allowedNets = new BlockList();
  for (const entry of options.allowlist) {
    const cidr = CIDR.exec(entry);
    if (cidr && isIP(cidr[1]!)) {
      const fam = family(cidr[1]!);
      allowedNets.addSubnet(cidr[1]!, cidr[2] === undefined ? (fam === 'ipv6' ? 128 : 32) : Number(cidr[2]), fam);
    } else {
      allowedHosts.add(entry.toLowerCase().replace(/\.$/, ''));
    }
  }

  return {
    async check(raw) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return { ok: false, reason: 'is not an absolute URL; send one like https://hooks.example.com/tessera' };
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        return { ok: false, reason: `must use https (or http), not ${url.protocol.slice(0, -1)}` };
      }
      if (url.username !== '' || url.password !== '') {
        return { ok: false, reason: 'must not carry credentials; authenticate the request with the signing secret instead' };
      }
      // WHATWG URL has already normalised the host: decimal/octal IPv4 forms become dotted quads.
      const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
      const hostAllowed = allowedHosts.has(host);
      let addresses: ResolvedAddress[];
      if (isIP(host)) {
        addresses = [{ address: host, family: isIP(host) === 6 ? 6 : 4 }];
      } else {
        try {
          addresses = await resolveHost(host);
        } catch {
          return { ok: false, reason: `host ${host} does not resolve; check the name` };
        }
        if (addresses.length === 0) return { ok: false, reason: `host ${host} does not resolve; check the name` };
      }
      // Every address must pass: a name with one public and one private address is refused,
      // since the connection could otherwise be steered to the private one.
      for (const a of addresses) {
        const range = blockedRange(a.address);
        if (range && !hostAllowed && !allowedNets.check(a.address, family(a.address))) {
          const via = isIP(host) ? '' : ` (${host} resolves to ${a.address})`;
          return {
            ok: false,
            reason: `points to a ${range} address${via}; use a public receiver, or have an operator add it to TESSERA_WEBHOOK_ALLOWLIST`,
          };
        }
      }
      return { ok: true, url, address: addresses[0]! };
    },
  };
}
