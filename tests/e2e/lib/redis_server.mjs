// A real redis-server (Debian's) for the tests of state.redis: started on
// a free port with its own directory and no persistence; kill() stops it
// hard (SIGKILL), as a crash would, and start() brings it back on the same
// port.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

// password: started with --requirepass, and url() and cli() use it.
export async function startRedisServer(dir, { password = null } = {}) {
  const port = await freePort();
  let proc = null;
  const start = async () => {
    proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--save', '', '--appendonly', 'no', ...(password ? ['--requirepass', password] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => { out += d; });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10000);
      const check = () => {
        if (/Ready to accept connections/.test(out)) { clearTimeout(timer); resolve(); } else setTimeout(check, 20);
      };
      check();
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`redis-server exited ${code}:\n${out}`)); });
    });
  };
  const kill = async () => {
    if (!proc) return;
    const exited = new Promise((r) => proc.on('exit', r));
    proc.kill('SIGKILL');
    await exited;
    proc = null;
  };
  await start();
  return {
    port,
    url: (db = 0) => `redis://${password ? `:${password}@` : ''}127.0.0.1:${port}/${db}`,
    // Runs one redis-cli command against database db; its trimmed output.
    cli: (db, ...args) => spawnSync('redis-cli', ['-p', String(port), '-n', String(db), ...(password ? ['--no-auth-warning', '-a', password] : []), ...args], { encoding: 'utf8' }).stdout.trim(),
    start,
    kill,
    // SIGSTOP / SIGCONT: a Redis that holds its connections but answers
    // nothing (a hung or overloaded server), then goes on.
    pause: () => proc.kill('SIGSTOP'),
    resume: () => proc.kill('SIGCONT'),
  };
}
