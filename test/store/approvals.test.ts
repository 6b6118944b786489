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

describe('ApprovalRepo: two-person approval', () => {
  const id = 'AAAAAAAAAAAAAAAA';
  const bob = { userId: 2, by: '@bob', at: 1000 };
  const carol = { userId: 3, by: '@carol', at: 1100 };

  it('takes one first approval, never the requester, and only a distinct second one approves', () => {
    const repo = new ApprovalRepo(openMemoryDb());
    repo.insert(approvalRow({ keys: 'ls' }, { quorum: 2 }));
    // The requester (user 10) is no voter, first or second.
    expect(repo.vote(id, { userId: 10, by: '@ops', at: 900 })).toBe(false);
    expect(repo.decide(id, 'approved', '@x', 900, 3)).toBe(false);
    expect(repo.vote(id, bob)).toBe(true);
    expect(repo.vote(id, bob)).toBe(false);
    expect(repo.vote(id, carol)).toBe(false);
    expect(repo.get(id)).toMatchObject({ state: 'pending', quorum: 2, firstVote: bob });
    expect(repo.decide(id, 'approved', '@bob and @bob', 1200, 2)).toBe(false);
    expect(repo.decide(id, 'approved', '@bob and @ops', 1200, 10)).toBe(false);
    expect(repo.decide(id, 'approved', '@bob', 1200)).toBe(false);
    expect(repo.get(id)!.state).toBe('pending');
    expect(repo.decide(id, 'approved', '@bob and @carol', 1200, 3)).toBe(true);
    expect(repo.get(id)).toMatchObject({ state: 'approved', decidedBy: '@bob and @carol', firstVote: bob });
  });

  it('is denied by one press, first approval or not; no vote past the expiry', () => {
    const repo = new ApprovalRepo(openMemoryDb());
    repo.insert(approvalRow({ keys: 'ls' }, { quorum: 2 }));
    expect(repo.vote(id, { ...bob, at: 120_000 })).toBe(false);
    expect(repo.vote(id, bob)).toBe(true);
    expect(repo.decide(id, 'denied', '@carol', 1100, 3)).toBe(true);
    expect(repo.vote(id, carol)).toBe(false);
  });

  it('undoes exactly the first approval whose audit entry could not be written', () => {
    const repo = new ApprovalRepo(openMemoryDb());
    repo.insert(approvalRow({ keys: 'ls' }, { quorum: 2 }));
    expect(repo.vote(id, bob)).toBe(true);
    expect(repo.unvote(id, { ...bob, at: 999 })).toBe(false);
    expect(repo.unvote(id, carol)).toBe(false);
    expect(repo.unvote(id, bob)).toBe(true);
    expect(repo.get(id)!.firstVote).toBeNull();
    expect(repo.vote(id, carol)).toBe(true);
  });

  it('one approval is enough for a request stored with a quorum of one (and for rows from before)', () => {
    const repo = new ApprovalRepo(openMemoryDb());
    repo.insert(approvalRow({ keys: 'ls' }));
    expect(repo.vote(id, bob)).toBe(false);
    expect(repo.get(id)).toMatchObject({ quorum: 1, firstVote: null });
    expect(repo.decide(id, 'approved', '@bob', 1000)).toBe(true);
  });
});
