/**
 * Where a routed name may resolve to. A route without `to` lets the gateway connect wherever the
 * name's DNS points, and DNS is not the manifest author's: a name under a wildcard route, or any
 * name whose zone someone else controls, can be pointed at the bundle's own loopback, at a cloud
 * metadata service, or at a link-local address. Those answers are refused; a route that really
 * means such an address says so with `to`.
 */
import dns from 'node:dns';
import net from 'node:net';

const blockList = new net.BlockList();
blockList.addSubnet('0.0.0.0', 8, 'ipv4'); // "this network"
blockList.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
blockList.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local, cloud metadata (169.254.169.254)
blockList.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
blockList.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
blockList.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, broadcast
blockList.addAddress('::', 'ipv6');
blockList.addAddress('::1', 'ipv6');
blockList.addSubnet('fe80::', 10, 'ipv6'); // link-local
blockList.addAddress('fd00:ec2::254', 'ipv6'); // AWS metadata over IPv6
blockList.addSubnet('ff00::', 8, 'ipv6'); // multicast

/** Why the gateway must not connect to `address` for a route without `to`, or null. */
export function blockedAddressReason(address: string): string | null {
  let a = address;
  let family = net.isIP(a);
  // IPv4-mapped IPv6 (::ffff:127.0.0.1) is the IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) {
    a = mapped[1]!;
    family = 4;
  }
  if (family === 0) return `${address} is not an IP address`;
  if (blockList.check(a, family === 4 ? 'ipv4' : 'ipv6')) {
    return `resolves to ${address}, a loopback, link-local, metadata or reserved address; a route that means it names it in "to"`;
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
