import type { Operator, Role } from './action.js';

/** The kind of chat a request came from, in no transport's vocabulary; `local` is the terminal. */
export type ChatKind = 'private' | 'group' | 'channel' | 'local';

/** Who is asking, as the transport saw it. Only the policy turns this into an Operator. */
export interface Principal {
  /** The transport's short name; it prefixes its people's ids in the audit log. */
  readonly transport: string;
  /** 0 for the local user at the terminal. */
  readonly userId: number;
  /** 0 for the terminal. */
  readonly chatId: number;
  readonly chatKind: ChatKind;
  /** How the transport names the person on cards ("@alice"); for the local user, its login. */
  readonly name?: string;
}

export interface PolicySettings {
  /** The transport whose user and chat ids the lists below hold. */
  readonly transport: string;
  readonly operators: readonly number[];
  readonly admins: readonly number[];
  readonly viewers: readonly number[];
  readonly chats: readonly number[];
  /** The role of the person at the local terminal (CONSOLE_ROLE); operator unless set. */
  readonly consoleRole?: Role;
}

/**
 * The audit log's name for a person, stable across display-name changes: `<transport>:<user id>`,
 * and the local user (id 0) `<transport>:<login>`. The one place such a name is made.
 */
export const actorId = (transport: string, userId: number, login = ''): string =>
  `${transport}:${userId === 0 ? login : userId}`;

/** A principal's audit name (strangers are audited too). */
export const principalId = (p: Principal): string => actorId(p.transport, p.userId, p.name);

/**
 * DESIGN.md §2 zero-trust identity: an authorized user AND (their own private chat OR an
 * authorized group). Anything else is nobody: the caller must not answer at all.
 */
export class Policy {
  private readonly roles = new Map<number, Role>();
  private readonly chats: ReadonlySet<number>;
  private readonly transport: string;
  private readonly consoleRole: Role;

  constructor(s: PolicySettings) {
    for (const id of s.viewers) this.roles.set(id, 'viewer');
    for (const id of s.operators) this.roles.set(id, 'operator');
    for (const id of s.admins) this.roles.set(id, 'admin');
    this.chats = new Set(s.chats);
    this.transport = s.transport;
    this.consoleRole = s.consoleRole ?? 'operator';
  }

  identify(p: Principal): Operator | null {
    // The local user is the one who started teleops at this terminal; its display is its audit name.
    if (p.chatKind === 'local') return { userId: 0, chatId: 0, role: this.consoleRole, display: principalId(p) };
    // The lists hold one transport's ids: the same number elsewhere is someone else.
    if (p.transport !== this.transport || p.userId === 0) return null;
    const role = this.roles.get(p.userId);
    if (role === undefined) return null;
    const chatOk =
      (p.chatKind === 'private' && p.chatId === p.userId) || (p.chatKind === 'group' && this.chats.has(p.chatId));
    if (!chatOk) return null;
    return { userId: p.userId, chatId: p.chatId, role, display: p.name ?? String(p.userId) };
  }

  /** A person's role by id; 0 is the local user at the terminal. */
  roleOf(userId: number): Role | undefined {
    return userId === 0 ? this.consoleRole : this.roles.get(userId);
  }

  /** An operator's audit name: the local user's display is already its own. */
  actorOf(o: Pick<Operator, 'userId' | 'display'>): string {
    return o.userId === 0 ? o.display : actorId(this.transport, o.userId);
  }

  /** Private chats of everyone allowed to act: where alerts go by default. */
  operatorChats(): number[] {
    return [...this.roles].filter(([, r]) => r !== 'viewer').map(([id]) => id);
  }
}
