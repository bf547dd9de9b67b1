import { test } from 'node:test';
import assert from 'node:assert/strict';
import { largestFirst } from '../src/engine/largest-first.js';

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

test('largestFirst starts the largest waiting task first, equal sizes in arrival order', async () => {
  const cpu = largestFirst(1);
  const order: string[] = [];
  const g = gate();
  const first = cpu(1, async () => {
    order.push('first');
    await g.opened;
  });
  const waiting = (
    [
      ['a', 1],
      ['b', 5],
      ['c', 3],
      ['d', 5],
      ['e', 2],
    ] as const
  ).map(([name, size]) => cpu(size, async () => void order.push(name)));
  g.open();
  await Promise.all([first, ...waiting]);
  assert.deepEqual(order, ['first', 'b', 'd', 'c', 'e', 'a']);
});

test('largestFirst runs at most its concurrency at once, and a failed task frees its place and rejects its caller', async () => {
  const cpu = largestFirst(2);
  let running = 0;
  let most = 0;
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, (_, i) =>
      cpu(i % 4, async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        if (i % 5 === 0) throw new Error(`task ${i} failed`);
        return i;
      }),
    ),
  );
  assert.equal(most, 2);
  assert.deepEqual(
    results.map((r) => r.status),
    Array.from({ length: 12 }, (_, i) => (i % 5 === 0 ? 'rejected' : 'fulfilled')),
  );
  assert.equal((results[5] as PromiseRejectedResult).reason.message, 'task 5 failed');
  assert.throws(() => largestFirst(0), /at least 1/);
});
