/**
 * The address guard: every address a routed name without `to` must not reach, in every spelling a
 * resolver can hand back, with controls that ordinary public and private addresses still pass.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { blockedAddressReason } from '@bot-bottle/egress-gateway';

const test = suite('address guard');

test('cloud metadata and host-service addresses are refused', () => {
  const refused = {
    'AWS IMDS': '169.254.169.254',
    'AWS IMDS over IPv6': 'fd00:ec2::254',
    'AWS DNS over IPv6': 'fd00:ec2::253',
    'AWS time over IPv6': 'fd00:ec2::123',
    'ECS task credentials': '169.254.170.2',
    'EKS Pod Identity': '169.254.170.23',
    'EKS Pod Identity over IPv6': 'fd00:ec2::23',
    'GCP metadata over IPv6': 'fd20:ce::254',
    "Azure's WireServer": '168.63.129.16',
    'Alibaba metadata': '100.100.100.200',
    'Oracle legacy metadata': '192.0.0.192',
    'Tencent metadata': '169.254.0.23',
  };
  for (const [what, address] of Object.entries(refused)) assert.ok(blockedAddressReason(address), `${what} (${address}) is not refused`);
});

test('loopback, unspecified, link-local, multicast and reserved, in IPv4 and IPv6', () => {
  for (const a of ['127.0.0.1', '127.8.9.1', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '255.255.255.255', '240.0.0.1', '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fec0::1', 'ff02::1']) {
    assert.ok(blockedAddressReason(a), a);
  }
});

test('an IPv6 address that carries a refused IPv4 address is refused: mapped, compatible, NAT64, 6to4, Teredo', () => {
  const forms = [
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::FFFF:A9FE:A9FE',
    '::ffff:169.254.169.254',
    '::127.0.0.1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::169.254.169.254',
    '64:ff9b:1::a9fe:a9fe',
    '2002:a9fe:a9fe::1',
    '2002:7f00:1::',
    // Teredo: the client's IPv4 address is stored inverted.
    '2001:0:4136:e378:8000:63bf:5601:5601',
  ];
  for (const a of forms) assert.ok(blockedAddressReason(a), `${a} reached what it carries`);
  assert.match(blockedAddressReason('64:ff9b::a9fe:a9fe')!, /carries 169\.254\.169\.254/);
});

test('controls: public and private addresses (and IPv6 carrying them) pass', () => {
  for (const a of ['10.1.2.3', '172.17.0.2', '192.168.1.1', '93.184.216.34', '100.64.1.1', '192.0.2.1', '2606:4700::1', 'fd12:3456::1', '::ffff:10.0.0.1', '64:ff9b::5db8:d822', '2002:5db8:d822::1']) {
    assert.is(blockedAddressReason(a), null, a);
  }
});

test.run();
