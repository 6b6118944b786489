import { bool, int } from '../../core/settings.js';
import { defineTarget } from '../../core/target.js';
import { shellActions } from './index.js';

/** `/shell` exists only with SHELL_ENABLED=true. */
export const shell = defineTarget({
  name: 'shell',
  settings: {
    SHELL_ENABLED: { doc: 'Allow /shell: admins only, approval every time', default: 'false', schema: bool },
    SHELL_TIMEOUT_SECONDS: { doc: 'A /shell command is killed after this long', default: '30', schema: int(1, 3600) },
  },
  create: ({ config: c }) => {
    if (!c.SHELL_ENABLED) return null;
    // Commands start where new terminal sessions do.
    const cwd = c.TMUX_DEFAULT_CWD;
    return {
      actions: shellActions({
        timeoutMs: c.SHELL_TIMEOUT_SECONDS * 1000,
        ...(typeof cwd === 'string' && cwd !== '' ? { cwd } : {}),
      }),
    };
  },
});
