import { FakeBotApi } from '../test/fakes/botapi.js';
import { seedScale, startFakeKube, TOKENS, writeKubeconfig } from '../test/fakes/kubeapi.js';
import { tempDir } from '../test/support/app.js';
import { startBot } from './bot.js';
import { botSpan } from './docker-bot.js';
import { percentile, sortNumbers, type Report } from './report.js';

const OP = 4545;
const PODS = 500;
const ROUNDS = 20;
const NS = 'bench';

/**
 * `/k8s pods` over 500 pods through the fake Bot API and the real `teleops start`, against the
 * raw list of the same pods from the fake Kubernetes API (one GET of the same JSON, parsed):
 * what the bot adds to the API's own answer. Rounds alternate, so load hits both alike.
 */
export async function benchKubernetes(report: Report): Promise<void> {
  const kube = await startFakeKube();
  seedScale(kube.clusters.get('prod')!, NS, PODS);
  const fake = new FakeBotApi();
  await fake.start();
  fake.createUser({ id: OP });
  const dir = tempDir('teleops-bench-k8s-');
  const proc = await startBot(fake, dir.path, [OP], {
    DOCKER_ENABLED: 'false',
    TMUX_ENABLED: 'false',
    KUBECONFIG: await writeKubeconfig(dir.path, kube),
    K8S_CONTEXTS: 'prod',
    RATE_LIMIT_PER_MINUTE: '10000',
    TELEGRAM_GLOBAL_PER_SECOND: '0',
    TELEGRAM_PRIVATE_PER_SECOND: '0',
  });
  const url = `${kube.serverUrl('prod')}/api/v1/namespaces/${NS}/pods`;
  const raw = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${TOKENS.prodAdmin}` } });
    const list = (await res.json()) as { items: unknown[] };
    if (list.items.length !== PODS) throw new Error(`k8s bench: the raw list has ${list.items.length} pods`);
    return performance.now() - t0;
  };
  const viaBot = async (): Promise<{ wall: number; span: number }> => {
    const t0 = performance.now();
    const { updateId, message } = fake.sendText({ from: OP, text: `/k8s pods -n ${NS}` });
    await fake.waitForMessage({ chat: OP, after: message.message_id, match: new RegExp(`— ${PODS}\\b`) });
    return { wall: performance.now() - t0, span: botSpan(fake, OP, updateId, 'sendMessage') };
  };
  const raws: number[] = [];
  const walls: number[] = [];
  const spans: number[] = [];
  try {
    await raw();
    await viaBot();
    for (let i = 0; i < ROUNDS; i++) {
      raws.push(await raw());
      const b = await viaBot();
      walls.push(b.wall);
      spans.push(b.span);
    }
  } finally {
    await proc.stop();
    await fake.stop();
    await kube.close();
    dir.remove();
  }
  const median = (xs: number[]): number => percentile(sortNumbers(xs), 50);
  report(`GET pods (${PODS}), raw list from the fake API`, median(raws), 'ms', 'median; baseline');
  report(`/k8s pods (${PODS}) through the bot`, median(walls), 'ms', 'median; the fake Bot API included');
  report("/k8s pods, the bot's span", median(spans), 'ms', 'median; update handed over → reply received');
  report('/k8s pods through the bot / raw', median(walls) / median(raws), 'x', 'goal ≤ 1.25');
  report(
    "/k8s pods, the fake Bot API's own part",
    median(walls.map((w, i) => w - spans[i]!)),
    'ms',
    'median; through the bot − span',
  );
}
