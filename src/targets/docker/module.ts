import { z } from 'zod';
import { bool, int } from '../../core/settings.js';
import { defineTarget, disabled } from '../../core/target.js';
import { parseDockerHost } from './engine.js';
import { createDockerTarget } from './index.js';

const dockerHost = z.string().transform((s, ctx) => {
  try {
    parseDockerHost(s);
    return s.trim();
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(/^DOCKER_HOST /, '') });
    return z.NEVER;
  }
});

export const docker = defineTarget({
  name: 'docker',
  settings: {
    DOCKER_ENABLED: { doc: 'Operate Docker containers', default: 'true', schema: bool },
    DOCKER_HOST: {
      doc: 'Docker Engine address, as the Docker CLI reads it (unix:///path or tcp://host:port)',
      default: 'unix:///var/run/docker.sock',
      schema: dockerHost,
    },
    DOCKER_TIMEOUT_SECONDS: { doc: 'Upper bound on one Docker Engine call', default: '10', schema: int(1, 300) },
  },
  fix: 'start dockerd, point DOCKER_HOST at it, or set DOCKER_ENABLED=false',
  prompt: 'Docker containers',
  summaries: [
    {
      name: 'ai.docker-summary',
      summary: 'A short AI diagnosis of a container log (also /docker logs <container> [lines] summarize)',
      param: 'container',
      label: 'Container',
      command: {
        path: ['docker', 'summary'],
        usage: '<container> [lines]',
        suffix: { path: ['docker', 'logs'], word: 'summarize' },
      },
      what: (container) => `the log of container ${container}`,
      read: { action: 'docker.logs', params: (container, lines) => ({ container, lines }) },
    },
  ],
  create: ({ config: c, alerts, log, redactor }) =>
    c.DOCKER_ENABLED
      ? createDockerTarget({ host: c.DOCKER_HOST, timeoutMs: c.DOCKER_TIMEOUT_SECONDS * 1000 }, alerts, log, {
          redactor,
        })
      : disabled('DOCKER_ENABLED=false'),
});
