/**
 * Long jobs (agent turns) run off a chat's message lane, so one person's slow request does not
 * hold up everyone's commands in a group. Each person's jobs still run one at a time, in the
 * order they were sent; a chat runs at most `perChat` at once; a person may have at most
 * `perPerson` waiting or running in a chat.
 */
export interface TurnLimits {
  readonly perChat: number;
  readonly perPerson: number;
}

interface Waiting {
  readonly person: number;
  readonly job: () => Promise<void>;
  readonly settle: (p: Promise<void>) => void;
}

interface ChatTurns {
  /** People with a job running now. */
  readonly running: Set<number>;
  readonly waiting: Waiting[];
}

export class TurnQueue {
  private readonly chats = new Map<number, ChatTurns>();

  constructor(private readonly limits: TurnLimits) {}

  /** Queues `job`; the promise settles as it does. Undefined (nothing queued) when the person has too many. */
  submit(chatId: number, person: number, job: () => Promise<void>): Promise<void> | undefined {
    let chat = this.chats.get(chatId);
    if (!chat) {
      chat = { running: new Set(), waiting: [] };
      this.chats.set(chatId, chat);
    }
    const mine = chat.waiting.filter((w) => w.person === person).length + (chat.running.has(person) ? 1 : 0);
    if (mine >= this.limits.perPerson) return undefined;
    const done = new Promise<void>((resolve) => chat.waiting.push({ person, job, settle: resolve }));
    this.pump(chatId, chat);
    return done;
  }

  private pump(chatId: number, chat: ChatTurns): void {
    while (chat.running.size < this.limits.perChat) {
      // The oldest job of someone not busy: a person's own jobs keep their order.
      const i = chat.waiting.findIndex((w) => !chat.running.has(w.person));
      if (i < 0) break;
      const [next] = chat.waiting.splice(i, 1);
      const w = next!;
      chat.running.add(w.person);
      const run = Promise.resolve().then(w.job);
      w.settle(run);
      void run
        .catch(() => undefined)
        .finally(() => {
          chat.running.delete(w.person);
          if (chat.running.size === 0 && chat.waiting.length === 0) this.chats.delete(chatId);
          else this.pump(chatId, chat);
        });
    }
  }
}
