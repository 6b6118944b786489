import { z } from 'zod';
import { parseDuration } from './text.js';

/**
 * One setting row and the parsers settings share, so that config.ts and every target module
 * describe their settings the same way. A value arrives as the text of an environment variable.
 */
export interface Setting {
  readonly doc: string;
  /** Shown in docs; `undefined` means unset by default. */
  readonly default?: string;
  readonly schema: z.ZodType;
  /** Scrubbed from everything that leaves the process. */
  readonly secret?: boolean;
  /** Example value for .env.example when it differs from the default. */
  readonly example?: string;
}

export type SettingRows = Readonly<Record<string, Setting>>;

/** What a set of rows parses to: each setting's name and its schema's output. */
export type SettingValues<S extends SettingRows> = { -readonly [K in keyof S]: z.output<S[K]['schema']> };

export const ids = (what: string) =>
  z.string().transform((s, ctx) => {
    const parts = s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const out: number[] = [];
    for (const p of parts) {
      if (!/^-?\d{1,20}$/.test(p) || !Number.isSafeInteger(Number(p))) {
        ctx.addIssue({ code: 'custom', message: `"${p}" is not a numeric ${what} id` });
        return z.NEVER;
      }
      out.push(Number(p));
    }
    return out;
  });

export const bool = z.string().transform((s, ctx) => {
  const v = s.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  ctx.addIssue({ code: 'custom', message: `"${s}" is not true or false` });
  return z.NEVER;
});

export const int = (min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s.trim());
    if (!/^\d+$/.test(s.trim()) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `"${s}" must be a whole number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

export const num = (min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `"${s}" must be a number from ${min} to ${max}` });
      return z.NEVER;
    }
    return n;
  });

export const text = z.string().transform((s) => s.trim());
export const list = z.string().transform((s) =>
  s
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== ''),
);

export const absolutePath = z.string().transform((s, ctx) => {
  const p = s.trim();
  if (p !== '' && !p.startsWith('/')) {
    ctx.addIssue({ code: 'custom', message: `"${s}" must be an absolute path` });
    return z.NEVER;
  }
  return p;
});

export const url = z.string().transform((s, ctx) => {
  try {
    const u = new URL(s.trim());
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return u.toString().replace(/\/$/, '');
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not an http(s) URL` });
    return z.NEVER;
  }
});

/** A duration like 30s, 10m, 1h30m; `0` or `off`: never. */
export const every = z.string().transform((s, ctx) => {
  const v = s.trim().toLowerCase();
  if (v === '0' || v === 'off') return 0;
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000) {
    ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration of 1s or more (like 30s, 10m, 1h) or 0/off` });
    return z.NEVER;
  }
  return ms;
});
