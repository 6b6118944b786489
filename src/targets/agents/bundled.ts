/**
 * The agent CLIs that come with their npm packages as optional dependencies, for this
 * platform, when they are installed: the default executables (AGENT_CLAUDE_PATH and
 * AGENT_CODEX_PATH override them).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The Claude Code CLI the SDK installs for this platform. */
export function bundledClaude(): string | undefined {
  const require = createRequire(import.meta.url);
  for (const libc of ['', '-musl']) {
    try {
      return require.resolve(`@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}${libc}/claude`);
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** Codex's Rust target for each platform it ships a binary for (as its own launcher, bin/codex.js). */
const CODEX_TARGETS: Readonly<Record<string, string>> = {
  'linux-x64': 'x86_64-unknown-linux-musl',
  'linux-arm64': 'aarch64-unknown-linux-musl',
  'darwin-x64': 'x86_64-apple-darwin',
  'darwin-arm64': 'aarch64-apple-darwin',
};

/**
 * The native `codex` binary `@openai/codex` installs for this platform (its platform package,
 * found from the main one as its launcher does). The binary itself, not the Node launcher: it
 * gets the signals teleops sends.
 */
export function bundledCodex(): string | undefined {
  const platform = `${process.platform}-${process.arch}`;
  const target = CODEX_TARGETS[platform];
  if (!target) return undefined;
  try {
    const main = createRequire(import.meta.url).resolve('@openai/codex/package.json');
    const pkg = createRequire(main).resolve(`@openai/codex-${platform}/package.json`);
    const exe = join(dirname(pkg), 'vendor', target, 'bin', 'codex');
    return existsSync(exe) ? exe : undefined;
  } catch {
    return undefined;
  }
}
