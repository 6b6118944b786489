import { z } from 'zod';
import { absolutePath, bool, int } from '../../core/settings.js';
import { defineTarget, disabled } from '../../core/target.js';
import { connectHosts } from './connect.js';
import { eventCursor, MIGRATIONS, POSTGRES } from './cursor.js';
import { parseDockerHost } from './engine.js';
import { HOST_NAME, HOST_NAME_RULE, hostsFromSettings, parseDockerHosts, splitHostRef } from './hosts.js';
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

const dockerHosts = z.string().transform((s, ctx) => {
  if (s.trim() === '') return '';
  try {
    parseDockerHosts(s);
    return s.trim();
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

export const docker = defineTarget({
  name: 'docker',
  settings: {
    DOCKER_ENABLED: { doc: 'Operate Docker containers', default: 'true', schema: bool },
    DOCKER_HOST: {
      doc:
        'Docker Engine address, as the Docker CLI reads it (unix:///path, tcp://host:port or ' +
        'ssh://user@host); one host, named local',
      default: 'unix:///var/run/docker.sock',
      schema: dockerHost,
    },
    DOCKER_HOSTS: {
      doc:
        'Several Docker hosts, name=address, comma-separated (local=unix:///var/run/docker.sock,' +
        'edge=tcp://10.0.0.5:2376,build=ssh://ops@build-1); the first is the default; replaces DOCKER_HOST',
      default: '',
      schema: dockerHosts,
    },
    DOCKER_TLS_DIR: {
      doc: 'TLS for tcp hosts: <dir>/<host name>/{ca,cert,key}.pem; a tcp host with such a directory uses TLS',
      default: '',
      schema: absolutePath,
    },
    DOCKER_SSH_KEY: {
      doc: 'Private key file for ssh:// hosts (the ssh agent at SSH_AUTH_SOCK is tried first)',
      default: '',
      schema: absolutePath,
    },
    DOCKER_SSH_KNOWN_HOSTS: {
      doc: "known_hosts holding each ssh:// host's key; empty: ~/.ssh/known_hosts",
      default: '',
      schema: absolutePath,
    },
    DOCKER_TIMEOUT_SECONDS: { doc: 'Upper bound on one Docker Engine call', default: '10', schema: int(1, 300) },
  },
  scope: {
    what: 'a Docker host name (DOCKER_HOSTS)',
    check: (p) => (HOST_NAME.test(p) ? undefined : `is not ${HOST_NAME_RULE}`),
    covers: (pattern, place) => pattern === place,
  },
  fix: 'start dockerd, point DOCKER_HOST (or DOCKER_HOSTS) at it, or set DOCKER_ENABLED=false',
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
      // "web@edge" reads edge's log; the host is checked by docker.logs like any other.
      read: {
        action: 'docker.logs',
        params: (ref, lines) => {
          const at = splitHostRef(ref);
          return at ? { container: at.rest, host: at.host, lines } : { container: ref, lines };
        },
      },
    },
  ],
  migrations: MIGRATIONS,
  postgres: POSTGRES,
  create: ({ config: c, alerts, log, redactor, db }) => {
    if (!c.DOCKER_ENABLED) return disabled('DOCKER_ENABLED=false');
    const hosts = connectHosts(hostsFromSettings({ hosts: c.DOCKER_HOSTS, host: c.DOCKER_HOST }), {
      tlsDir: c.DOCKER_TLS_DIR,
      sshKey: c.DOCKER_SSH_KEY,
      knownHosts: c.DOCKER_SSH_KNOWN_HOSTS,
      ...(process.env.SSH_AUTH_SOCK ? { agentSocket: process.env.SSH_AUTH_SOCK } : {}),
    });
    return createDockerTarget({ hosts, timeoutMs: c.DOCKER_TIMEOUT_SECONDS * 1000 }, alerts, log, {
      redactor,
      cursors: (host) => eventCursor(db, host),
    });
  },
});
