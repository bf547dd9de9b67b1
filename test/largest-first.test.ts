import { test } from 'node:test';
import assert from 'node:assert/strict';
import { largestFirst } from '../src/engine/largest-first.js';

// The order in which one-at-a-time `cpu` starts tasks queued (name, size) while a first one runs.
async function startOrder(cpu: ReturnType<typeof largestFirst>, tasks: readonly (readonly [string, number])[]): Promise<string[]> {
  const order: string[] = [];
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  const first = cpu(1, async () => {
    order.push('first');
    await opened;
  });
  const waiting = tasks.map(([name, size]) => cpu(size, async () => void order.push(name)));
  open();
  await Promise.all([first, ...waiting]);
  return order;
}

test('largestFirst starts the largest waiting task first, equal sizes in arrival order', async () => {
  const tasks = [['a', 1], ['b', 5], ['c', 3], ['d', 5], ['e', 2]] as const;
  assert.deepEqual(await startOrder(largestFirst(1), tasks), ['first', 'b', 'd', 'c', 'e', 'a']);
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

test('largestFirst lets a task that has watched `patience` others start go next, and runs every task once', async () => {
  const tasks = [['small', 1], ['big1', 9], ['big2', 8], ['big3', 7]] as const;
  assert.deepEqual(await startOrder(largestFirst(1, 2), tasks), ['first', 'big1', 'big2', 'small', 'big3']);

  // Many tasks of random sizes arriving while others run: each runs once and returns its own result.
  const many = largestFirst(2, 5);
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const ran = new Map<number, number>();
  const results = await Promise.all(
    Array.from({ length: 400 }, async (_, i) => {
      if (i % 7 === 0) await new Promise((r) => setTimeout(r, 1));
      return many(Math.floor(random() * 50), async () => {
        ran.set(i, (ran.get(i) ?? 0) + 1);
        if (i % 3 === 0) await new Promise((r) => setImmediate(r));
        return i * 2;
      });
    }),
  );
  assert.deepEqual(results, Array.from({ length: 400 }, (_, i) => i * 2));
  assert.equal(ran.size, 400);
  assert.ok([...ran.values()].every((n) => n === 1));
});
