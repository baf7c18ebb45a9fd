// Runs the real Claude Code CLI (pinned in package.json) in print mode in a
// working directory, its API base URL pointed at a running ccproxy.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLAUDE = path.join(ROOT, 'node_modules/.bin/claude');

// Resolves {code, out} (stdout and stderr together); kills it after 120 s.
export function claude(args, work, proxy) {
  return new Promise((resolve) => {
    const child = spawn(CLAUDE, args, {
      cwd: work,
      env: {
        PATH: process.env.PATH,
        HOME: work,
        ANTHROPIC_BASE_URL: proxy.url,
        ANTHROPIC_API_KEY: 'client-key',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}
