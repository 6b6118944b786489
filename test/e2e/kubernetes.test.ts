/**
 * Kubernetes end to end: the real `teleops start` process, the real grammY stack against the
 * fake Bot API, and the real @kubernetes/client-node against the fake API server (clusters
 * prod and staging, plus a prod context with a viewer token).
 */
import { describe, it, type TestContext } from 'vitest';
import type { StoredMessage } from '../fakes/botapi.js';
import { FakeBotApi } from '../fakes/botapi.js';
import { startFakeKube, TOKENS, writeKubeconfig } from '../fakes/kubeapi.js';
import { tempDir } from '../support/app.js';
import { freePort, runTeleops, type Proc } from '../support/process.js';
import { untilPolling } from '../support/polling.js';

const OP = 10;

/**
 * A fake Bot API, a fake API server and a state directory of the test's own, closed when it ends:
 * the tests run at once (each waits mostly on its own process), each with its bot.
 */
async function setup({ onTestFinished, expect }: TestContext) {
  const fake = new FakeBotApi({ username: 'teleops_k8s_bot' });
  await fake.start();
  fake.createUser({ id: OP, username: `u${OP}` });
  const kube = await startFakeKube();
  const dir = tempDir('teleops-k8s-e2e-');
  const kubeconfig = await writeKubeconfig(dir.path, kube, [
    { name: 'prod-viewer', cluster: 'prod', token: TOKENS.prodViewer, namespace: 'shop' },
  ]);
  const httpPort = await freePort();
  let proc: Proc | undefined;
  onTestFinished(async () => {
    await proc?.stop();
    await fake.stop();
    await kube.close();
    dir.remove();
  });

  const env = (extra: Record<string, string>): Record<string, string> => ({
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    AUTHORIZED_USER_IDS: String(OP),
    STATE_DIR: dir.path,
    HTTP_PORT: String(httpPort),
    DOCKER_ENABLED: 'false',
    TMUX_ENABLED: 'false',
    KUBECONFIG: kubeconfig,
    // The viewer context points at the same cluster as prod: watching it too would double alerts.
    K8S_CONTEXTS: 'prod,staging',
    ...extra,
  });

  return {
    fake,
    kube,
    /** The process started last. */
    proc: () => proc!,
    /**
     * Starts the bot and waits until this process polls and has opened its alert watches
     * (pods, warning events and nodes, per context).
     */
    async start(extra: Record<string, string> = {}): Promise<void> {
      const calls = fake.calls.length;
      const requests = kube.requests.length;
      proc = runTeleops(['start'], env(extra));
      await untilPolling(fake, proc, { from: calls });
      const watches = 3 * (extra.K8S_CONTEXTS ?? 'prod,staging').split(',').length;
      await until(
        () =>
          kube.requests.slice(requests).filter((r) => r.query.watch === 'true').length >= watches &&
          kube.openWatches >= watches,
        `${watches} watch streams`,
        20_000,
      );
    },

    /** Sends a line as the operator and waits for the first later bot message matching `match`. */
    async ask(text: string, match: RegExp, timeoutMs = 10_000): Promise<StoredMessage> {
      const after = fake.messages(OP).at(-1)?.message_id ?? 0;
      fake.sendText({ from: OP, text });
      return fake.waitForMessage({ chat: OP, match, after, timeoutMs });
    },

    approvalButtons(card: StoredMessage): { approve: string; deny: string } {
      const [approve, deny] = buttons(card).map((b) => b.data);
      expect(approve).toMatch(/^a:.+:y$/);
      expect(deny).toMatch(/^a:.+:n$/);
      return { approve: approve!, deny: deny! };
    },

    podsOf: (cluster: string, ns: string, app: string) =>
      kube
        .cluster(cluster)
        .list('pods', ns)
        .filter((p) => p.metadata.labels?.app === app)
        .map((p) => p.metadata.name),

    replicas: (cluster: string, ns: string, name: string) =>
      kube.cluster(cluster).get('deployments', ns, name)?.spec?.replicas,

    /** PATCH requests that changed something (not dry runs). */
    realPatches: () => kube.requests.filter((r) => r.method === 'PATCH' && r.query.dryRun === undefined),

    async health(): Promise<{
      status: number;
      body: { checks: Record<string, string>; details: Record<string, string> };
    }> {
      const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
      return {
        status: res.status,
        body: (await res.json()) as { checks: Record<string, string>; details: Record<string, string> },
      };
    },

    /** teleops_alerts_total for source kubernetes and this outcome (0 when absent). */
    async alertsTotal(outcome: string): Promise<number> {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const row = text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('teleops_alerts_total{') &&
            l.includes('source="kubernetes"') &&
            l.includes(`outcome="${outcome}"`),
        );
      return row ? Number(row.split(' ').at(-1)) : 0;
    },
  };
}

const buttons = (m: StoredMessage) =>
  (m.reply_markup?.inline_keyboard ?? [])
    .flat()
    .map((b) => ({ text: b.text, data: 'callback_data' in b ? (b.callback_data ?? '') : '' }));

/** Polls `cond`: for things the fake Bot API does not see happen (its waitFor re-checks only on its own traffic). */
async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Each test runs the real CLI (one process, two in the first); on a busy machine that takes a while.
describe.concurrent('teleops start with Kubernetes, through Telegram', { timeout: 60_000 }, () => {
  it('contexts, per-chat scope, -c/-n overrides; every reply names context and namespace', async (ctx) => {
    const { proc, start, ask, podsOf } = await setup(ctx);
    const { expect } = ctx;
    await start();
    const contexts = await ask('/k8s contexts', /Kubernetes contexts/);
    expect(contexts.text).toMatch(/▶ prod — namespace shop/);
    expect(contexts.text).toMatch(/• staging — namespace web/);
    expect(contexts.text).not.toContain('prod-viewer');

    const prodPods = await ask('/pods', /Pods in shop @ prod/);
    for (const p of podsOf('prod', 'shop', 'web')) expect(prodPods.text).toContain(p);

    const use = await ask('/k8s use staging', /now uses context/);
    expect(use.text).toBe('This chat now uses context staging, namespace web.');
    const stagingPods = await ask('/pods', /Pods in web @ staging/);
    const frontend = podsOf('staging', 'web', 'frontend');
    expect(frontend).toHaveLength(2);
    for (const p of frontend) expect(stagingPods.text).toContain(p);
    expect(stagingPods.text).not.toMatch(/\bweb-/);

    const overridden = await ask('/pods -c prod -n shop', /Pods in shop @ prod/);
    for (const p of podsOf('prod', 'shop', 'api')) expect(overridden.text).toContain(p);
    const deploys = await ask('/k8s deploy -n payments -c prod', /Deployments in payments @ prod/);
    expect(deploys.text).toContain('billing');
    // The override was for one request only: the chat is still on staging, also after a restart.
    await ask('/k8s deploy', /Deployments in web @ staging[\s\S]*frontend 2\/2 ready/);
    expect(await proc().stop()).toBe(0);
    await start();
    await ask('/pods', /Pods in web @ staging/);
  });

  it('shows a CrashLoopBackOff with its reason, returns logs inline, and a long log as a document', async (ctx) => {
    const { fake, kube, start, ask, podsOf } = await setup(ctx);
    const { expect } = ctx;
    await start();
    const [crashing, healthy] = podsOf('prod', 'shop', 'web');
    kube.cluster('prod').crashLoop('shop', crashing!);
    const pods = await ask('/pods', /Pods in shop @ prod/);
    const row = (pods.text ?? '').split('\n').find((l) => l.includes(crashing!));
    expect(row).toMatch(/🔴 .* 0\/1 CrashLoopBackOff · 1↻/);
    expect((pods.text ?? '').split('\n').find((l) => l.includes(healthy!))).toMatch(/🟢 .* 1\/1 Running/);
    const rowButtons = buttons(pods).map((b) => b.text);
    expect(rowButtons).toEqual(expect.arrayContaining(['🔎 Describe', '🗑 Delete']));

    kube
      .cluster('prod')
      .setLogs('shop', healthy!, 'nginx', ['GET / 200', 'GET /health 200', '<b>@everyone</b> GET /admin 403']);
    const logs = await ask(`/k8s logs ${healthy}`, /Logs of pod/);
    expect(logs.text).toContain(`Logs of pod shop/${healthy}, container nginx @ prod`);
    expect(logs.text).toContain('GET / 200\nGET /health 200\n<b>@everyone</b> GET /admin 403');
    expect(logs.entities.map((e) => e.type)).toEqual(['bold', 'code', 'code', 'code', 'pre']);

    const long = Array.from({ length: 1000 }, (_, i) => `request ${i + 1} served`);
    kube.cluster('prod').setLogs('shop', healthy!, 'nginx', long);
    const docsBefore = fake.documents(OP).length;
    const head = await ask(`/k8s logs ${healthy} 500`, /last 500 lines/);
    expect(head.text).toMatch(/Sent as a file/);
    const doc = await fake.waitFor(() => fake.documents(OP)[docsBefore], 10_000, 'the log document');
    expect(doc.file_name).toBe(`${healthy}.nginx.log`);
    const lines = doc.bytes.toString().trimEnd().split('\n');
    expect(lines).toHaveLength(500);
    expect(lines[0]).toBe('request 501 served');
    expect(lines.at(-1)).toBe('request 1000 served');
  });

  it('scale: the card shows the dry run and the scope; Deny changes nothing, Approve scales and reports', async (ctx) => {
    const { fake, kube, start, ask, approvalButtons, podsOf, replicas, realPatches } = await setup(ctx);
    const { expect } = ctx;
    await start();
    const denied = await ask('/k8s scale deploy/web 7', /Approval needed/);
    expect(denied.text).toMatch(/replicas 3 → 7/);
    expect(realPatches()).toHaveLength(0);
    fake.pressButton({ from: OP, messageId: denied.message_id, data: approvalButtons(denied).deny });
    await fake.waitFor(
      () => /Denied by @u10/.test(fake.message(OP, denied.message_id)?.text ?? ''),
      5000,
      'the card to show the denial',
    );
    expect(replicas('prod', 'shop', 'web')).toBe(3);

    const card = await ask('/k8s scale deploy/web 5', /Approval needed/);
    expect(card.text).toContain('k8s.scale');
    expect(card.text).toContain('Scale deployment shop/web @ prod');
    expect(card.text).toMatch(/replicas 3 → 5/);
    expect(card.text).toMatch(/dry run/);
    // Only dry runs so far: the server saw the change but did not make it.
    expect(kube.requests.filter((r) => r.method === 'PATCH' && r.query.dryRun === 'All')).toHaveLength(2);
    expect(realPatches()).toHaveLength(0);
    expect(replicas('prod', 'shop', 'web')).toBe(3);

    fake.pressButton({ from: OP, messageId: card.message_id, data: approvalButtons(card).approve });
    const live = await fake.waitForMessage({
      chat: OP,
      match: /scaled 3 → 5/,
      after: card.message_id,
      timeoutMs: 15_000,
    });
    const done =
      /^✅ deployment shop\/web @ prod: scaled 3 → 5; rollout complete in .*: 5\/5 ready, 5 updated, 5 available\.$/;
    await fake.waitFor(() => done.test(fake.message(OP, live.message_id)?.text ?? ''), 15_000, 'the final card');
    expect(replicas('prod', 'shop', 'web')).toBe(5);
    expect(podsOf('prod', 'shop', 'web')).toHaveLength(5);
    expect(realPatches().map((r) => `${r.cluster} ${r.path}`)).toEqual([
      'prod /apis/apps/v1/namespaces/shop/deployments/web/scale',
    ]);
    await fake.waitFor(
      () => /Approved by @u10/.test(fake.message(OP, card.message_id)?.text ?? ''),
      5000,
      'the card to show the approval',
    );
  });

  it('follows an approved rollout in a live card while the chat goes on, then shows its end', async (ctx) => {
    const { fake, kube, start, ask, approvalButtons } = await setup(ctx);
    const { expect } = ctx;
    await start();
    const prod = kube.cluster('prod');
    const card = await ask('/k8s scale deploy/web 5', /Approval needed/);
    prod.autoRollout = false;
    try {
      fake.pressButton({ from: OP, messageId: card.message_id, data: approvalButtons(card).approve });
      const live = await fake.waitForMessage({ chat: OP, match: /rolling out/, after: card.message_id });
      expect(live.text).toMatch(/^🔄 deployment shop\/web @ prod: scaled 3 → 5; rolling out…/);
      // The rollout cannot finish until the test lets it: another command is answered meanwhile.
      await ask('/whoami', /role operator/);
      await ask('/k8s deploy', /Deployments in shop @ prod/);
      expect(fake.message(OP, live.message_id)?.text).toMatch(/rolling out… 3\/5 ready|rolling out…$/);
      expect(prod.get('deployments', 'shop', 'web')?.status?.readyReplicas).toBe(3);
      prod.autoRollout = true;
      prod.progress();
      await fake.waitFor(
        () =>
          /^✅ .*scaled 3 → 5; rollout complete in .*: 5\/5 ready/.test(fake.message(OP, live.message_id)?.text ?? ''),
        15_000,
        'the card to show the end of the rollout',
      );
    } finally {
      prod.autoRollout = true;
      prod.progress();
    }
    // One card, edited in place (the approval card names the first version of it).
    expect(fake.messages(OP).filter((m) => /^\S+ deployment shop\/web @ prod: scaled/.test(m.text ?? ''))).toHaveLength(
      1,
    );
  });

  it('an approved request acts where its card said, even after the chat switched context', async (ctx) => {
    const { fake, start, ask, approvalButtons, replicas, realPatches } = await setup(ctx);
    const { expect } = ctx;
    await start();
    const card = await ask('/k8s scale deploy/web 4', /Approval needed/);
    expect(card.text).toContain('shop/web @ prod');
    await ask('/k8s use staging', /now uses context staging/);
    fake.pressButton({ from: OP, messageId: card.message_id, data: approvalButtons(card).approve });
    const done = await fake.waitForMessage({
      chat: OP,
      match: /scaled 3 → 4/,
      after: card.message_id,
      timeoutMs: 15_000,
    });
    expect(done.text).toContain('deployment shop/web @ prod');
    expect(replicas('prod', 'shop', 'web')).toBe(4);
    expect(realPatches().map((r) => r.cluster)).toEqual(['prod']);
    expect(replicas('staging', 'web', 'frontend')).toBe(2);
  });

  it('an RBAC 403 is one clear line naming the missing permission', async (ctx) => {
    const { fake, start, ask, replicas } = await setup(ctx);
    const { expect } = ctx;
    await start({ K8S_CONTEXTS: 'prod,staging,prod-viewer' });
    // The viewer may read…
    await ask('/pods -c prod-viewer', /Pods in shop @ prod-viewer/);
    // …but not patch: the dry run on the card is refused before any card is shown.
    const refused = await ask('/k8s scale deploy/web 5 -c prod-viewer', /forbidden/);
    expect(refused.text).toBe(
      '⚠️ k8s.scale failed: forbidden: cannot patch deployments/scale in namespace shop (context prod-viewer)',
    );
    expect(fake.messages(OP).some((m) => /Approval needed/.test(m.text ?? ''))).toBe(false);
    expect(replicas('prod', 'shop', 'web')).toBe(3);
  });

  it('raises a CrashLoopBackOff alert once, with its buttons; /silence mutes the next incident', async (ctx) => {
    const { fake, kube, start, ask, podsOf, alertsTotal } = await setup(ctx);
    const { expect } = ctx;
    await start();
    const [web] = podsOf('prod', 'shop', 'web');
    const [api] = podsOf('prod', 'shop', 'api');
    const prod = kube.cluster('prod');
    prod.setLogs('shop', web!, 'nginx', ['starting nginx', 'fatal: cannot bind :8080'], { previous: true });
    prod.crashLoop('shop', web!);
    const alert = await fake.waitForMessage({ chat: OP, match: /CrashLoopBackOff: pod/, timeoutMs: 10_000 });
    expect(alert.text).toContain(`CrashLoopBackOff: pod shop/${web} @ prod`);
    expect(alert.text).toContain('container nginx');
    expect(alert.text).toContain('fatal: cannot bind :8080');
    const alertButtons = buttons(alert);
    expect(alertButtons.map((b) => b.text)).toEqual(['📜 Logs', '🔎 Describe']);

    // The same incident again (another restart), and a new one after a recovery within the cooldown.
    prod.crashLoop('shop', web!);
    prod.heal('shop', web!);
    prod.crashLoop('shop', web!);
    await until(async () => (await alertsTotal('coalesced')) === 1, 'the repeat to be coalesced');
    expect(await alertsTotal('sent')).toBe(1);

    // The alert's Logs button shows the crashed container's log.
    fake.pressButton({ from: OP, messageId: alert.message_id, data: alertButtons[0]!.data });
    const logs = await fake.waitForMessage({ chat: OP, match: /previous container/, after: alert.message_id });
    expect(logs.text).toContain(`Logs of pod shop/${web}, container nginx @ prod`);
    expect(logs.text).toContain('starting nginx\nfatal: cannot bind :8080');

    await ask('/silence 10m', /Alerts muted for 10m/);
    prod.crashLoop('shop', api!, 'api');
    await until(async () => (await alertsTotal('silenced')) === 1, 'the second incident to be silenced');
    expect(fake.messages(OP).filter((m) => /CrashLoopBackOff: pod/.test(m.text ?? ''))).toHaveLength(1);
    expect(await alertsTotal('sent')).toBe(1);
  });

  it('K8S_READ_ONLY: no scale command and no mutating commands in /help', async (ctx) => {
    const { fake, kube, start, ask } = await setup(ctx);
    const { expect } = ctx;
    await start({ K8S_READ_ONLY: 'true' });
    const help = await ask('/help', /\/k8s pods/);
    const all = fake
      .messages(OP)
      .filter((m) => m.message_id >= help.message_id)
      .map((m) => m.text ?? '')
      .join('\n');
    expect(all).toContain('/k8s logs');
    for (const verb of ['scale', 'restart', 'rollback', 'delete']) expect(all).not.toContain(`/k8s ${verb}`);
    const refused = await ask('/k8s scale deploy/web 5', /not a command/);
    expect(refused.text).toMatch(
      /^⚠️ \/k8s scale is not a command\. Try one of: contexts, use, ns, pods, deploy, nodes, events, logs, describe\.$/,
    );
    const pods = await ask('/pods', /Pods in shop @ prod/);
    expect(buttons(pods).map((b) => b.text)).not.toContain('🗑 Delete');
    expect(kube.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });

  it('/health follows the API server; while it is down a command gets one line and the bot keeps working', async (ctx) => {
    const { kube, start, ask, health } = await setup(ctx);
    const { expect } = ctx;
    await start();
    await ask('/whoami', /role operator/);
    const up = await health();
    expect(up.status).toBe(200);
    expect(up.body.checks.kubernetes).toBe('up');
    expect(up.body.details.kubernetes).toBe('prod v1.31.2, staging v1.31.2');

    await kube.down();
    const failed = await ask('/pods', /failed/);
    expect(failed.text).toBe('⚠️ k8s.pods failed: Kubernetes API unreachable (ECONNREFUSED) (context prod)');
    const down = await health();
    expect(down.status).toBe(200);
    expect(down.body.checks.kubernetes).toBe('down');
    expect(down.body.details.kubernetes).toMatch(/unreachable/);
    await ask('/whoami', /User 10 · chat 10 · role operator/);

    await kube.up();
    await ask('/pods', /Pods in shop @ prod/);
    expect((await health()).body.checks.kubernetes).toBe('up');
  });
});
