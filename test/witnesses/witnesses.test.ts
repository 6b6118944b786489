import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/core/policy.js';
import { parseWitnessSpec } from '../../src/witnesses/spec.js';
import { freePort } from '../support/process.js';
import { tempDir, testApp, type TestApp } from '../support/app.js';

const op: Principal = { transport: 'tg', userId: 10, chatId: 10, chatKind: 'private' };

const stops: (() => Promise<void> | void)[] = [];
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const s of stops.splice(0).reverse()) await s();
});

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!ok()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A real rsyslogd from Debian with a private config: imtcp on a loopback port, omfile to a temp file. */
async function rsyslog(): Promise<{ port: number; file: string }> {
  const dir = tempDir('teleops-rsyslog-');
  const port = await freePort();
  const file = join(dir.path, 'messages.log');
  const conf = join(dir.path, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir.path}")`,
      'module(load="imtcp")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      `action(type="omfile" file="${file}" template="RSYSLOG_SyslogProtocol23Format")`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(dir.path, 'rsyslog.pid')], {
    stdio: 'ignore',
  });
  stops.push(async () => {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    dir.remove();
  });
  // Listening once a connection is accepted.
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((r) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      }).once('error', () => r(false));
    });
    if (up) break;
    if (i > 400 || child.exitCode !== null) throw new Error('rsyslogd did not start');
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, file };
}

interface Hook {
  url: string;
  bodies: unknown[];
  status: number;
}

async function hook(): Promise<Hook> {
  const h: Hook = { url: '', bodies: [], status: 200 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      if (h.status === 200)
        h.bodies.push({
          method: req.method,
          url: req.url,
          type: req.headers['content-type'],
          json: JSON.parse(body) as unknown,
        });
      res.writeHead(h.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  h.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/audit-hook?token=abc`;
  stops.push(() => new Promise<void>((r) => server.close(() => r())));
  return h;
}

describe('AUDIT_WITNESS', () => {
  it('parses telegram:, syslog:// and http(s) witnesses, and names what is wrong', () => {
    expect(parseWitnessSpec('telegram:-1001234')).toEqual({ kind: 'telegram', chatId: -1001234 });
    expect(parseWitnessSpec('syslog://logs.example:6514')).toEqual({
      kind: 'syslog',
      host: 'logs.example',
      port: 6514,
    });
    expect(parseWitnessSpec('https://w.example/h')).toMatchObject({ kind: 'http' });
    expect(parseWitnessSpec('syslog://logs.example')).toMatch(/write syslog:\/\/host:port/);
    expect(parseWitnessSpec('ftp://x')).toMatch(/not supported/);
    expect(parseWitnessSpec('telegram:abc')).toMatch(/is not telegram:<chat id>/);
  });

  it("a real rsyslog receives an RFC 5424 line with the head's seq and hash", async () => {
    const r = await rsyslog();
    t = await testApp({
      AUDIT_WITNESS: `syslog://127.0.0.1:${r.port}`,
      AUDIT_WITNESS_EVERY: '3',
      AUDIT_HMAC_KEY: 'witness-key-0123456789',
    });
    for (let i = 0; i < 3; i++) await t.app.dispatcher.command(op, 'command', `/test echo ${i}`);
    const head = t.app.audit.head()!;
    await until(
      'rsyslog to write the head',
      () => existsSync(r.file) && readFileSync(r.file, 'utf8').includes(head.hash),
    );
    const line = readFileSync(r.file, 'utf8')
      .split('\n')
      .find((l) => l.includes(head.hash))!;
    expect(line).toMatch(
      new RegExp(
        `^<109>1 \\S+ \\S+ teleops \\d+ audit-head \\[teleops@32473 seq="${head.seq}" hash="${head.hash}" keyed="true" key_id="${t.app.audit.currentKeyId}"\\] teleops audit head #${head.seq} `,
      ),
    );
    await until('the head to be stored', () => t!.app.witnesses.heads().length > 0);
    expect(t.app.witnesses.heads()).toEqual([
      { seq: head.seq, hash: head.hash, by: `the head posted to syslog://127.0.0.1:${r.port}` },
    ]);
  });

  it('an HTTP endpoint receives the head as JSON after a destructive action; a failing one is counted and retried, never blocking', async () => {
    const h = await hook();
    h.status = 500;
    t = await testApp({ AUDIT_WITNESS: h.url, AUDIT_WITNESS_EVERY: 'off' });
    const o = await t.app.dispatcher.command(op, 'command', '/test destroy db');
    if (o.kind !== 'approval') throw new Error(o.kind);
    expect((await t.app.dispatcher.decide(op, o.approval.id, o.approval.token, 'approve')).kind).toBe('done');
    const name = `http://${new URL(h.url).host}`;
    const errors = async (): Promise<string> =>
      t!.app.metrics.registry.getSingleMetricAsString('teleops_audit_witness_errors_total');
    for (let i = 0; !(await errors()).includes(`witness="${name}"`); i++) {
      if (i > 800) throw new Error('no witness error counted');
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(h.bodies).toHaveLength(0);
    h.status = 200;
    await until('the retry to reach the endpoint', () => h.bodies.length > 0, 30_000);
    const head = t.app.audit.head()!;
    expect(h.bodies[0]).toEqual({
      method: 'POST',
      url: '/audit-hook?token=abc',
      type: 'application/json',
      json: {
        source: 'teleops',
        kind: 'audit_head',
        seq: head.seq,
        hash: head.hash,
        keyed: false,
        key_id: null,
        at: expect.any(String),
      },
    });
    expect(await errors()).not.toContain('token=abc');
  });
});
