import type { Operator, Role } from './action.js';

/** Who is asking, as the transport saw it. Only the policy turns this into an Operator. */
export type Principal =
  | {
      readonly kind: 'telegram';
      readonly userId: number;
      readonly chatId: number;
      readonly chatType: 'private' | 'group' | 'supergroup' | 'channel';
      readonly username?: string;
    }
  | { readonly kind: 'console'; readonly name: string };

export interface PolicySettings {
  readonly operators: readonly number[];
  readonly admins: readonly number[];
  readonly viewers: readonly number[];
  readonly chats: readonly number[];
}

/**
 * DESIGN.md §2 zero-trust identity: an authorized user AND (their own private chat OR an
 * authorized group). Anything else is nobody: the caller must not answer at all.
 */
export class Policy {
  private readonly roles = new Map<number, Role>();
  private readonly chats: ReadonlySet<number>;

  constructor(s: PolicySettings) {
    for (const id of s.viewers) this.roles.set(id, 'viewer');
    for (const id of s.operators) this.roles.set(id, 'operator');
    for (const id of s.admins) this.roles.set(id, 'admin');
    this.chats = new Set(s.chats);
  }

  identify(p: Principal): Operator | null {
    if (p.kind === 'console') return { userId: 0, chatId: 0, role: 'operator', display: `console:${p.name}` };
    const role = this.roles.get(p.userId);
    if (role === undefined) return null;
    const chatOk =
      (p.chatType === 'private' && p.chatId === p.userId) ||
      ((p.chatType === 'group' || p.chatType === 'supergroup') && this.chats.has(p.chatId));
    if (!chatOk) return null;
    return { userId: p.userId, chatId: p.chatId, role, display: p.username ? `@${p.username}` : String(p.userId) };
  }

  roleOf(userId: number): Role | undefined {
    return this.roles.get(userId);
  }

  /** Private chats of everyone allowed to act: where alerts go by default. */
  operatorChats(): number[] {
    return [...this.roles].filter(([, r]) => r !== 'viewer').map(([id]) => id);
  }
}

/** The audit log's name for a principal, stable across display-name changes. */
export const principalId = (p: Principal): string => (p.kind === 'console' ? `console:${p.name}` : `tg:${p.userId}`);
export const operatorId = (o: Operator): string => (o.userId === 0 ? o.display : `tg:${o.userId}`);
