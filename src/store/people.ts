import type { Db } from '../core/sqlite.js';

/**
 * User ids a transport has shown under `name` ("@alice"): the only names teleops keeps are
 * those of people who asked for an approval (approvals.requester), so /audit can be filtered
 * by them. Newest first; the local user (id 0) has its login as audit name already.
 */
export function idsNamed(db: Db): (name: string) => number[] {
  const q = db
    .prepare<[string], number>(
      `SELECT requester_id FROM approvals WHERE lower(requester) = ? AND requester_id != 0
       GROUP BY requester_id ORDER BY max(created_at) DESC`,
    )
    .pluck();
  return (name) => q.all(name.toLowerCase());
}
