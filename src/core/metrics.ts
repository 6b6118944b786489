import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric DESIGN.md §3 names, on one registry, prefixed `teleops_`. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'teleops_' });
  const r = [registry];
  return {
    registry,
    actions: new Counter({
      name: 'teleops_actions_total',
      help: 'Actions dispatched, by outcome',
      labelNames: ['action', 'origin', 'outcome'] as const,
      registers: r,
    }),
    actionDuration: new Histogram({
      name: 'teleops_action_duration_seconds',
      help: 'Time an action ran',
      labelNames: ['action'] as const,
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120],
      registers: r,
    }),
    approvals: new Counter({
      name: 'teleops_approvals_total',
      help: 'Approval decisions',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    rateLimited: new Counter({
      name: 'teleops_rate_limited_total',
      help: 'Requests refused by the rate limit',
      registers: r,
    }),
    unauthorized: new Counter({
      name: 'teleops_unauthorized_updates_total',
      help: 'Updates from users or chats that are not authorized',
      registers: r,
    }),
    auditEntries: new Counter({ name: 'teleops_audit_entries_total', help: 'Audit entries written', registers: r }),
    telegramErrors: new Counter({
      name: 'teleops_telegram_api_errors_total',
      help: 'Failed Telegram API calls',
      labelNames: ['method', 'code'] as const,
      registers: r,
    }),
    webhookRequests: new Counter({
      name: 'teleops_webhook_requests_total',
      help: 'Requests to the Telegram webhook, by what became of them (unauthorized: without the right secret)',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    llmTokens: new Counter({
      name: 'teleops_llm_tokens_total',
      help: 'LLM tokens used',
      labelNames: ['provider', 'kind'] as const,
      registers: r,
    }),
    auditWitnessErrors: new Counter({
      name: 'teleops_audit_witness_errors_total',
      help: 'Failed posts of the audit head to a witness',
      labelNames: ['witness'] as const,
      registers: r,
    }),
    alerts: new Counter({
      name: 'teleops_alerts_total',
      help: 'Alerts raised, by what happened to them',
      labelNames: ['source', 'outcome'] as const,
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
