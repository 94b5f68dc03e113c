// Type=notify: the daemon says READY=1 once its jails have started, through
// systemd-notify, to whatever NOTIFY_SOCKET names; here a small receiver.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DaemonHarness, waitFor } from '../helpers/daemon.js';

const skip = spawnSync('systemd-notify', ['--help']).status !== 0 ? 'needs systemd-notify (Debian package systemd)'
  : spawnSync('python3', ['-c', 'import socket']).status !== 0 ? 'needs python3 for the fake notify socket' : false;

let h: DaemonHarness | null = null;
let receiver: ChildProcess | null = null;
after(async () => {
  receiver?.kill();
  await h?.cleanup();
});

test('READY=1 and a status reach NOTIFY_SOCKET once the jails run; STOPPING=1 on SIGTERM', { skip }, async () => {
  h = new DaemonHarness((x) => `[asterisk]\nenabled = true\nbackend = log\nfilter = asterisk\nlogpath = ${x.log}\naction = dry-run\nverify = off\n`);
  const sock = join(h.dir, 'notify.sock');
  // A unix datagram socket, as systemd's: Node has none, Python does. It is slow to
  // take what follows READY=1 (systemd-notify's BARRIER=1), so systemd-notify is still
  // running when the SIGTERM below comes: the daemon must handle it by then.
  receiver = spawn('python3', ['-u', '-c', `import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('listening', flush=True)
while True:
    m = s.recv(4096).decode().replace('\\n', ' ')
    print(m, flush=True)
    if 'READY=1' in m: time.sleep(1.5)
`, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let got = '';
  receiver.stdout!.on('data', (d: Buffer) => (got += d.toString()));
  await waitFor(() => got.includes('listening'), 10_000);
  await h.start({ NOTIFY_SOCKET: sock });
  await waitFor(() => /READY=1/.test(got), 10_000, () => `${got}\n${h!.output}`);
  assert.match(got, /STATUS=1 jail\(s\) running/);
  assert.match(got, new RegExp(`MAINPID=${h.child!.pid}`));
  // At once, as systemd may: a daemon without its handler yet would die without a clean stop.
  const code = await h.stop('SIGTERM');
  assert.equal(code, 0, h.output);
  assert.match(h.output, /SIGTERM: stopping/);
  // The daemon's own lines too: a systemd-notify that failed or timed out says so there.
  await waitFor(() => /STOPPING=1/.test(got), 5_000, () => `${got}\n${h!.output}`);
});
