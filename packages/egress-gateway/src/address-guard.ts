/**
 * Where a routed name may resolve to. A route without `to` lets the gateway connect wherever the
 * name's DNS points, and DNS is not the manifest author's: a name under a wildcard route, or any
 * name whose zone someone else controls, can be pointed at the bundle's own loopback, at a cloud
 * metadata service, or at a link-local address. Those answers are refused; a route that really
 * means such an address says so with `to`.
 */
import dns from 'node:dns';
import net from 'node:net';

/**
 * Addresses no route without `to` may reach, each with where it comes from. The cloud entries are
 * checked against each provider's documentation of its instance metadata and host services.
 */
const BLOCKED: readonly { net: string; prefix: number; family: 'ipv4' | 'ipv6'; what: string }[] = [
  { net: '0.0.0.0', prefix: 8, family: 'ipv4', what: '"this network" (RFC 791)' },
  { net: '127.0.0.0', prefix: 8, family: 'ipv4', what: 'loopback' },
  // AWS IMDS 169.254.169.254, its DNS .253 and time .123, ECS task credentials 169.254.170.2,
  // EKS Pod Identity 169.254.170.23; GCP, Azure IMDS, Oracle, DigitalOcean, Hetzner, OpenStack
  // 169.254.169.254; Tencent 169.254.0.23.
  { net: '169.254.0.0', prefix: 16, family: 'ipv4', what: 'link-local, cloud metadata' },
  { net: '168.63.129.16', prefix: 32, family: 'ipv4', what: "Azure's WireServer (host services, VM agent)" },
  { net: '100.100.100.200', prefix: 32, family: 'ipv4', what: 'Alibaba Cloud metadata' },
  // IETF protocol assignments, Oracle Cloud's legacy metadata endpoint 192.0.0.192 among them.
  { net: '192.0.0.0', prefix: 24, family: 'ipv4', what: 'IETF protocol assignments (Oracle Cloud metadata at 192.0.0.192)' },
  { net: '224.0.0.0', prefix: 4, family: 'ipv4', what: 'multicast' },
  { net: '240.0.0.0', prefix: 4, family: 'ipv4', what: 'reserved, broadcast' },
  { net: '::', prefix: 128, family: 'ipv6', what: 'unspecified' },
  { net: '::1', prefix: 128, family: 'ipv6', what: 'loopback' },
  { net: 'fe80::', prefix: 10, family: 'ipv6', what: 'link-local' },
  { net: 'fec0::', prefix: 10, family: 'ipv6', what: 'site-local (deprecated)' },
  // AWS over IPv6: IMDS fd00:ec2::254, DNS ::253, time ::123, EKS Pod Identity ::23.
  { net: 'fd00:ec2::', prefix: 32, family: 'ipv6', what: 'AWS instance services over IPv6' },
  { net: 'fd20:ce::254', prefix: 128, family: 'ipv6', what: 'Google Cloud metadata over IPv6' },
  { net: 'ff00::', prefix: 8, family: 'ipv6', what: 'multicast' },
];

const blockList = new net.BlockList();
for (const b of BLOCKED) blockList.addSubnet(b.net, b.prefix, b.family);

/** An IPv6 address as 16 bytes, or null when it is not one. */
function ipv6Bytes(address: string): Buffer | null {
  if (net.isIPv6(address) === false) return null;
  let a = address.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    a = a.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}

/**
 * The IPv4 address an IPv6 one carries to an IPv4 host, or null: IPv4-mapped (::ffff:a.b.c.d) and
 * -compatible (::a.b.c.d), NAT64 (64:ff9b::/96 and 64:ff9b:1::/48), 6to4 (2002::/16) and Teredo
 * (2001::/32, the client address inverted). A name answering with one of these reaches the IPv4
 * address through a translator or a tunnel.
 */
export function embeddedIpv4(address: string): string | null {
  const b = ipv6Bytes(address);
  if (!b) return null;
  const v4 = (at: number, invert = false) => [...b.subarray(at, at + 4)].map((x) => (invert ? x ^ 0xff : x)).join('.');
  const zero = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12);
  if (zero(0, 12) && !zero(12, 16) && !(zero(12, 15) && b[15] === 1)) return v4(12);
  if (b.readUInt32BE(0) === 0x0064ff9b && zero(4, 12)) return v4(12);
  if (b.readUInt16BE(0) === 0x0064 && b.readUInt16BE(2) === 0xff9b && b.readUInt16BE(4) === 0x0001) return v4(12);
  if (b.readUInt16BE(0) === 0x2002) return v4(2);
  if (b.readUInt32BE(0) === 0x20010000) return v4(12, true);
  return null;
}

/** Why the gateway must not connect to `address` for a route without `to`, or null. */
export function blockedAddressReason(address: string): string | null {
  const family = net.isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const refused = `resolves to ${address}, a loopback, link-local, metadata or reserved address; a route that means it names it in "to"`;
  if (blockList.check(address, family === 4 ? 'ipv4' : 'ipv6')) return refused;
  if (family === 6) {
    const inner = embeddedIpv4(address);
    if (inner && blockList.check(inner, 'ipv4')) return `${refused} (it carries ${inner})`;
  }
  return null;
}

export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKEDADDRESS';
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/** A `lookup` for net/tls/http that fails when any answer is a blocked address. */
export function guardedLookup(hostname: string, options: dns.LookupOptions | number | LookupCallback, callback?: LookupCallback): void {
  const cb = (typeof options === 'function' ? options : callback)!;
  const opts: dns.LookupOptions = typeof options === 'object' ? options : typeof options === 'number' ? { family: options } : {};
  dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
    if (err) return cb(err, opts.all ? [] : '', 0);
    for (const { address } of addresses) {
      const reason = blockedAddressReason(address);
      if (reason) return cb(new BlockedAddressError(`${hostname} ${reason}`), opts.all ? [] : '', 0);
    }
    if (opts.all) return cb(null, addresses);
    const first = addresses[0];
    if (!first) return cb(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    cb(null, first.address, first.family);
  });
}
