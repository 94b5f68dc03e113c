import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestNet, ADDR, isRoot, haveTool } from '../helpers/netns.js';
import { ConntrackVerifier, originSource } from '../../src/jail/verify.js';
import { silentLogger } from '../../src/core/logger.js';
import type { CommandRunner } from '../../src/actions/exec.js';

describe('originSource', () => {
  it('takes the first src= of a conntrack line, normalised', () => {
    const line = 'udp      17 29 src=2001:db8:51:0::2 dst=2001:db8:51::1 sport=4000 dport=5060 [UNREPLIED] src=2001:db8:51::1 dst=2001:db8:51::2';
    assert.equal(originSource(line), '2001:db8:51::2');
    assert.equal(originSource('conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.'), null);
    assert.equal(originSource('tcp 6 src=999.1.1.1 dst=1.1.1.1'), null);
  });
});

describe('ConntrackVerifier.detect', () => {
  it('returns null when conntrack cannot run', async () => {
    const failing: CommandRunner = async () => {
      throw new Error('cannot run conntrack: ENOENT');
    };
    assert.equal(await ConntrackVerifier.detect({ logger: silentLogger(), run: failing }), null);
  });
});

const skip = !isRoot() ? 'needs root: creates network namespaces' : !haveTool('conntrack') ? 'needs conntrack' : false;

describe('ConntrackVerifier on a real kernel', { skip }, () => {
  let net: TestNet;
  let verifier: ConntrackVerifier;

  before(async () => {
    // The pbx's ESTABLISHED accept rule turns connection tracking on in its namespace.
    net = await TestNet.create();
    const v = await ConntrackVerifier.detect({ logger: silentLogger(), run: net.pbxRun, prefix: ['ip', 'netns', 'exec', net.pbx] });
    assert.ok(v, 'conntrack is readable in the pbx namespace');
    verifier = v;
    assert.deepEqual(await net.reachable(ADDR.att4), { udp: true, tcp: true });
  });
  after(async () => {
    await net?.destroy();
  });

  it('sees the address that sent packets, not one that was merely named', async () => {
    const seen = await verifier.seen([ADDR.att4, '198.51.100.77', ADDR.att6, '2001:db8:51::77', 'not-an-ip']);
    assert.deepEqual([...seen].sort(), [ADDR.att4, ADDR.att6].sort());
  });

  it('answers a flood-sized batch from one dump per family', async () => {
    const bystanders = Array.from({ length: 40 }, (_, i) => `198.51.100.${100 + i}`);
    const seen = await verifier.seen([...bystanders, ADDR.att4, '2001:db8:51::77']);
    assert.deepEqual([...seen], [ADDR.att4]);
  });
});
