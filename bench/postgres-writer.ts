// One replica's audit writer, as a process of its own (bench/postgres.ts starts several):
// connects, appends `warmup` entries, says "ready", waits for a line on stdin, then appends to
// DATABASE_URL's shared chain until it has written `max` entries or `budgetMs` has passed, and
// says "done <entries>". Timing is the parent's: from its "go" to the last "done".
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { AuditLog } from '../src/core/audit.js';
import { openPostgres } from '../src/store/postgres-schema.js';
import { entry } from './audit.js';

const [url = '', anchorPath = '', warmup, budgetMs, max, name = ''] = process.argv.slice(2);
// The writer's name as the target: the chain check tells who wrote each entry.
const next = (i: number) => ({ ...entry(i), target: name });
const db = openPostgres(url);
const log = new AuditLog(db.asDb(), { anchorPath, shared: true });
for (let i = 0; i < Number(warmup); i++) log.append(next(i));
process.stdout.write('ready\n');
await once(createInterface({ input: process.stdin }), 'line');
const deadline = performance.now() + Number(budgetMs);
let n = 0;
while (n < Number(max) && performance.now() < deadline) log.append(next(n++));
log.close();
db.close();
process.stdout.write(`done ${n}\n`);
process.exit(0);
