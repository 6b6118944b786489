import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../../src/core/redact.js';
import { plainText, type Block } from '../../../src/core/result.js';
import { alertFor, cardKey, indexCard, statusCard, unwatchedCard } from '../../../src/targets/tmux/cards.js';
import type { TmuxState } from '../../../src/targets/tmux/classify.js';
import type { WatchEntry } from '../../../src/targets/tmux/watcher.js';

const NOW = 1_000_000_000;
const { redact } = createRedactor([]);
const entry = (target: string, state: TmuxState, more: Partial<WatchEntry> = {}): WatchEntry => ({
  target,
  session: target.split(':')[0]!,
  state,
  reason: 'test',
  stateSince: NOW - 125_000,
  lastChange: NOW - 5000,
  command: 'sh',
  startCommand: 'make all',
  lines: ['step 1', 'step 2'],
  watchedSince: NOW - 600_000,
  ...more,
});

/** Every span and block that carries text from the terminal or tmux. */
const untrusted = (blocks: readonly Block[]) =>
  blocks.flatMap((b) => (b.kind === 'pre' ? [b.text] : b.spans.filter((s) => s.kind === 'value').map((s) => s.text)));

describe('statusCard', () => {
  it('redacts terminal lines before cutting them: a bot token past the cut is hidden, not left at 34 of 35', () => {
    const token = '7012345678:AAH4aBcDeFgHiJkLmNoPqRsTuVwXyZ0123_';
    const long = `${'x'.repeat(80)} POST https://api.telegram.org/bot${token}/sendMessage`;
    const e = entry('s', 'waiting', {
      lines: [long],
      startCommand: `${'y'.repeat(180)} --token abcdefghijklmnop`,
      line: long,
    });
    for (const r of [
      statusCard(e, NOW, redact),
      alertFor({ kind: 'state_changed', entry: e, from: 'running', to: 'waiting', alertable: true }, NOW, redact)!
        .result,
    ]) {
      const shown = plainText(r);
      expect(shown).not.toContain(token.slice(11, 30));
      expect(shown).not.toContain('abcdefghij');
    }
    expect(
      plainText(statusCard(entry('s', 'waiting', { lines: ['ok', `API_TOKEN=${'z'.repeat(300)}`] }), NOW, redact)),
    ).toContain(`API_TOKEN=${REDACTED}`);
  });

  it('shows state, name, alias, time in state, command and last lines, with its key', () => {
    const card = statusCard(entry('build', 'waiting', { alias: 'api', exitStatus: undefined }), NOW, redact);
    expect(card.card).toEqual({
      key: 'tmux:build',
      title: '🟡 build (api)',
      kind: 'item',
      final: false,
      about: { target: 'tmux', place: 'build' },
    });
    expect(card.reply).toEqual({ action: 'tmux.send', params: { target: 'build' } });
    expect(cardKey('build:1.0')).toBe('tmux:build:1.0');
    expect(plainText(card)).toBe(
      '🟡 build (api) · waiting for input\n2m in this state\ncommand: make all\nstep 1\nstep 2',
    );
    expect(card.buttons?.map((r) => r.map((b) => b.action))).toEqual([
      ['tmux.refresh', 'tmux.tail', 'tmux.keys'],
      ['tmux.keys', 'tmux.log', 'tmux.kill'],
    ]);
  });

  it('keeps terminal text in value spans and pre blocks only', () => {
    const hostile = '<b>@admin</b> [x](http://evil)';
    const card = statusCard(
      entry('s', 'error', { alias: hostile, startCommand: hostile, lines: [hostile], exitStatus: 2 }),
      NOW,
      redact,
    );
    for (const b of card.blocks) {
      if (b.kind === 'line') for (const sp of b.spans) if (sp.kind !== 'value') expect(sp.text).not.toContain('evil');
    }
    expect(untrusted(card.blocks).filter((t) => t.includes('evil'))).toHaveLength(3);
    expect(plainText(card)).toContain('exit status 2');
  });

  it('is final once the pane is gone or no longer watched', () => {
    expect(statusCard(entry('build', 'gone'), NOW, redact).card).toMatchObject({
      key: 'tmux:build',
      title: '⚫ build',
      final: true,
    });
    const last = unwatchedCard('build:1');
    expect(last.card).toEqual({
      key: 'tmux:build:1',
      title: '⚪ build:1',
      kind: 'item',
      final: true,
      about: { target: 'tmux', place: 'build' },
    });
    expect(plainText(last)).toBe('⚪ build:1 · no longer watched');
    expect(last.buttons?.flat()).toEqual([{ label: '👁 Watch', action: 'tmux.watch', params: { target: 'build:1' } }]);
  });

  it('kills the session even when the card is for one pane', () => {
    const card = statusCard(entry('build:1.2', 'running'), NOW, redact);
    expect(card.buttons?.[1]?.[2]).toMatchObject({ action: 'tmux.kill', params: { target: 'build' } });
    expect(card.buttons?.[0]?.[1]).toMatchObject({ action: 'tmux.tail', params: { target: 'build:1.2' } });
  });
});

describe('indexCard', () => {
  it('lists what needs a person first', () => {
    const card = indexCard(
      [entry('b', 'running'), entry('a', 'done'), entry('c', 'error'), entry('d', 'waiting'), entry('e', 'idle')],
      NOW,
    );
    expect(card.card).toMatchObject({ key: 'tmux::index', kind: 'index' });
    expect(
      plainText(card)
        .split('\n')
        .map((l) => l.split(' ').slice(0, 2).join(' ')),
    ).toEqual(['Terminal sessions', '🔴 c', '🟡 d', '🟢 b', '⚪ e', '✅ a']);
    expect(plainText(indexCard([], NOW))).toContain('Nothing is watched');
  });
});

describe('alertFor', () => {
  it('turns only alertable state changes into alerts keyed by target and state', () => {
    const e = entry('job', 'waiting', { line: 'Continue? [y/N]' });
    const alert = alertFor(
      { kind: 'state_changed', entry: e, from: 'running', to: 'waiting', alertable: true },
      NOW,
      redact,
    );
    expect(alert?.source).toBe('tmux');
    expect(alert?.key).toBe('tmux:job:waiting');
    // Per-chat scopes route it by its session's name.
    expect(alert?.place).toBe('job');
    expect(plainText(alert!.result)).toContain('line: Continue? [y/N]');
    expect(alert?.result.buttons).toHaveLength(2);
    expect(alert?.result.reply).toEqual({ action: 'tmux.send', params: { target: 'job' } });
    expect(
      alertFor({ kind: 'state_changed', entry: e, from: 'running', to: 'waiting', alertable: false }, NOW, redact),
    ).toBeUndefined();
    expect(alertFor({ kind: 'output_changed', entry: e }, NOW, redact)).toBeUndefined();
  });
});
