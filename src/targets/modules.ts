import { agents } from './agents/module.js';
import { docker } from './docker/module.js';
import { kubernetes } from './kubernetes/module.js';
import { shell } from './shell/module.js';
import { tmux } from './tmux/module.js';

/**
 * Every target teleops can operate, in the order settings, help and /status show them. The
 * one place that names them: config, migrations, doctor, the AI prompt and summaries derive
 * from this list. Each module decides from the settings whether its target is enabled.
 */
export const MODULES = [docker, tmux, kubernetes, shell, agents] as const;
