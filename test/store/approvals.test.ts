import { describe, expect, it } from 'vitest';
import { ApprovalRepo } from '../../src/store/approvals.js';
import { openMemoryDb } from '../../src/store/db.js';
import { approvalRow } from '../support/approvals.js';

describe('ApprovalRepo.reopen (a decision whose audit entry could not be written)', () => {
  it('undoes exactly that decision, and nothing decided otherwise', () => {
    const repo = new ApprovalRepo(openMemoryDb());
    repo.insert(approvalRow({ keys: 'ls' }));
    const id = 'AAAAAAAAAAAAAAAA';
    expect(repo.decide(id, 'approved', '@ops', 1000)).toBe(true);
    // Another decision than the one made (who, when, which) is left as it is.
    expect(repo.reopen(id, 'denied', '@ops', 1000)).toBe(false);
    expect(repo.reopen(id, 'approved', '@other', 1000)).toBe(false);
    expect(repo.reopen(id, 'approved', '@ops', 999)).toBe(false);
    expect(repo.get(id)?.state).toBe('approved');

    expect(repo.reopen(id, 'approved', '@ops', 1000)).toBe(true);
    expect(repo.get(id)).toMatchObject({ state: 'pending', decidedBy: null, decidedAt: null });
    // Pending again: it can be decided once more, once.
    expect(repo.decide(id, 'approved', '@ops', 2000)).toBe(true);
    expect(repo.decide(id, 'approved', '@ops', 2000)).toBe(false);
  });
});
