// scripts/kafka/start.sh's wait for the broker, against a stand-in for java
// that logs like a broker restarting with many consumer groups: a start
// line followed by far more than a pipe's worth of log. The script once
// read the log through `tail | grep -q` under pipefail, which fails once
// grep stops reading early (tail dies of SIGPIPE): it then waited out its
// timeout for a broker that had started, as a long nemesis campaign's
// broker restarts did.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePorts } from '../src/index.js';

const SCRIPTS = resolve(fileURLToPath(import.meta.url), '../../../../scripts/kafka');

// Storage formatting succeeds at once; the "broker" (its arguments name
// kafka.Kafka, which start.sh and stop.sh look for) logs its start, then
// about 1 MiB more, and only then listens on its port.
const FAKE_JAVA = `#!/usr/bin/env node
const { readFileSync, writeSync } = require('node:fs');
const { createServer } = require('node:net');
const args = process.argv.slice(2);
if (!args.includes('kafka.Kafka')) process.exit(0);
const props = readFileSync(args[args.length - 1], 'utf8');
const port = Number(/PLAINTEXT:\\/\\/127\\.0\\.0\\.1:(\\d+)/.exec(props)[1]);
writeSync(1, '[fake] INFO [KafkaRaftServer nodeId=1] Kafka Server started (kafka.server.KafkaRaftServer)\\n');
const line = '[fake] INFO [GroupCoordinator 1]: Loading group metadata for raftbus.some-cluster.1.a-consumer-group with generation 2\\n';
writeSync(1, line.repeat(Math.ceil((1 << 20) / line.length)));
createServer().listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function run(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile('bash', [join(SCRIPTS, script)], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

describe('scripts/kafka/start.sh', () => {
  let dir: string | undefined;
  let env: NodeJS.ProcessEnv | undefined;

  afterEach(async () => {
    if (env !== undefined) await run('stop.sh', env);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = env = undefined;
  });

  it('sees a start line followed by more log than a pipe holds', async () => {
    dir = mkdtempSync(join(tmpdir(), 'raftbus-start-sh-'));
    const java = join(dir, 'java');
    writeFileSync(java, FAKE_JAVA);
    chmodSync(java, 0o755);
    // A jar cache that exists, so that the script fetches nothing.
    const cache = join(dir, 'cache');
    mkdirSync(join(cache, 'libs'), { recursive: true });
    const [port, controllerPort] = await freePorts(2);
    env = {
      ...process.env,
      JAVA: java,
      RAFTBUS_KAFKA_CACHE: cache,
      RAFTBUS_KAFKA_DIR: join(dir, 'broker'),
      RAFTBUS_KAFKA_PORT: String(port),
      RAFTBUS_KAFKA_CONTROLLER_PORT: String(controllerPort),
      RAFTBUS_KAFKA_START_TIMEOUT: '20',
    };
    const started = await run('start.sh', env);
    expect(started.stderr).not.toContain('did not start');
    expect(started.code).toBe(0);
    expect(started.stdout.trim()).toBe(`KAFKA_BROKER=127.0.0.1:${port}`);
  }, 60_000);
});
