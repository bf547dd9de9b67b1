/**
 * Maps an async iterable with at most `limit` calls of `fn` in flight, yielding results in input order.
 * Reads ahead no further than `limit` items, so memory stays flat however long the input is.
 */
export async function* orderedMap<T, R>(input: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  const it = input[Symbol.asyncIterator]();
  let done = false;
  try {
    while (true) {
      while (!done && window.length < limit) {
        const next = await it.next();
        if (next.done) {
          done = true;
          break;
        }
        const p = fn(next.value);
        p.catch(() => {}); // observed when its turn comes; avoids an unhandled rejection meanwhile
        window.push(p);
      }
      const head = window.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    if (!done) await it.return?.();
  }
}
