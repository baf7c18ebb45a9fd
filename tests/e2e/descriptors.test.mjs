// Running out of file descriptors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { startProxy, mockConfig } from './lib/proxy.mjs';

// utime + stime of a process, in clock ticks.
function cpuTicks(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function healthWithin(url, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  try {
    return (await fetch(`${url}/health`, { signal: ctl.signal })).status;
  } catch {
    return 'no answer';
  } finally {
    clearTimeout(timer);
  }
}

// With several workers, libuv's spare-descriptor trick races between the
// worker threads; a worker that lost it used to spin in accept() forever
// (100% CPU, its timers never fired, nothing answered).
test('descriptor_exhaustion_pauses_accepting_without_spinning_and_recovers', async () => {
  const proxy = await startProxy(mockConfig('http://127.0.0.1:9'), { nofile: 64, args: ['--workers', '4'] });
  const socks = [];
  try {
    for (let i = 0; i < 300; i++) {
      const s = net.connect(proxy.port, '127.0.0.1');
      s.on('error', () => {});
      socks.push(s);
    }
    await Promise.all(socks.map((s) => new Promise((r) => { s.once('connect', r); s.once('error', r); s.once('close', r); })));
    await sleep(500);
    // A livelock detector, not a speed bound: a spinning worker burns a
    // whole core over the window; a paused one almost nothing.
    const hz = 100;
    const windowMs = 2000;
    const before = cpuTicks(proxy.pid);
    await sleep(windowMs);
    const used = cpuTicks(proxy.pid) - before;
    assert.ok(used < (windowMs / 1000) * hz * 0.5, `ccproxy used ${used} ticks of CPU in ${windowMs} ms while out of descriptors`);
    for (const s of socks) s.destroy();
    let status;
    for (let i = 0; i < 10 && status !== 200; i++) status = await healthWithin(proxy.url, 3000);
    assert.equal(status, 200, 'ccproxy serves again once the connections are gone');
    // libuv may have shed the burst itself (accepting and closing what it
    // could not keep); when it could not, the pause is logged once.
    assert.ok((proxy.log().match(/cannot accept connections/g) || []).length <= 1, 'logged once per burst');
  } finally {
    for (const s of socks) s.destroy();
    await proxy.stop();
  }
});
