/**
 * How long the queue's atomic step takes: enqueue a call and assign it to the longest-idle of 20
 * free takers (one Lua script), against a plain PING on the same connection.
 *
 *   npm run bench:assign        (REDIS_URL, default redis://127.0.0.1:6379)
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { CallQueue } from '../src/queues/call-queue.ts';

const ROUNDS = 5000;
const TAKERS = 20;

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `siaga112-bench-${randomBytes(4).toString('hex')}`;
const leaderId = 'bench';
await redis.set(`${prefix}:leader`, leaderId);
const queue = new CallQueue(redis, {
  prefix,
  leaderId,
  policy: { agingMs: 60_000, skillFallbackMs: 20_000 },
});
// A realistic snapshot size: the live call's state is stored with the enqueue.
const snapshot = JSON.stringify({ padding: 'x'.repeat(1500) });

const assign: number[] = [];
const ping: number[] = [];
try {
  for (let i = 0; i < ROUNDS; i++) {
    const takerId = `taker${i % TAKERS}`;
    await queue.setTakerState(takerId, 'available', { endpoint: `PJSIP/${takerId}` });
    let started = performance.now();
    const assignment = await queue.enqueue(
      `call${i}`,
      { level: 1, enqueuedAt: Date.now(), category: null },
      snapshot,
    );
    assign.push(performance.now() - started);
    if (!assignment) throw new Error('no assignment although a taker was free');
    await queue.connect(assignment.takerId, assignment.callId);
    await queue.release(assignment.takerId, assignment.callId, 0);
    await queue.forget(assignment.callId);
    started = performance.now();
    await redis.ping();
    ping.push(performance.now() - started);
  }
} finally {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

const pct = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.floor((p / 100) * (values.length - 1))]!.toFixed(3);
const line = (name: string, values: number[]) =>
  `${name.padEnd(28)} p50 ${pct(values, 50)} ms  p90 ${pct(values, 90)} ms  p99 ${pct(values, 99)} ms`;
console.log(`${ROUNDS} rounds, ${TAKERS} takers`);
console.log(line('enqueue + assign (Lua)', assign));
console.log(line('PING (round trip floor)', ping));
