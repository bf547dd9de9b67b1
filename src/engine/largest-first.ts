/**
 * Runs at most `concurrency` tasks at once and, of those waiting, starts the largest first (equal
 * sizes in the order they came), except that a task which has seen `patience` others start since it
 * came goes next. A job's conversions go through it with each input's size in bytes: at the end of
 * a job the images still waiting then finish together instead of one large image converting alone
 * while the other cores wait (the longest-first rule for scheduling on parallel machines), and no
 * small image waits for long behind larger ones read after it.
 *
 * @example
 * const cpu = largestFirst(3, 15);
 * const png = await cpu(jpeg.length, () => convertImage(jpeg, spec, limits));
 */
export function largestFirst(concurrency: number, patience = 4 * concurrency): <T>(size: number, task: () => Promise<T>) => Promise<T> {
  if (!(concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, got ${concurrency}`);
  interface Waiting {
    size: number;
    seq: number;
    startsBefore: number; // tasks started before this one came
    taken: boolean;
    at: number; // its place in the heap
    start: () => void;
  }
  let running = 0;
  let arrivals = 0;
  let starts = 0;
  // Waiting tasks twice: in arrival order (for patience) and in a binary heap by size, then arrival.
  // A task started from the heap is skipped when it reaches the front of the queue; one started for
  // its patience is taken out of the heap where it is.
  const queue: Waiting[] = [];
  let head = 0;
  const heap: Waiting[] = [];
  const before = (a: Waiting, b: Waiting) => a.size > b.size || (a.size === b.size && a.seq < b.seq);
  const place = (e: Waiting, i: number) => {
    heap[i] = e;
    e.at = i;
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      const e = heap[i]!;
      place(heap[parent]!, i);
      place(e, parent);
      i = parent;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      const e = heap[i]!;
      place(heap[m]!, i);
      place(e, m);
      i = m;
    }
  };
  const remove = (e: Waiting) => {
    const last = heap.pop()!;
    if (last !== e) {
      place(last, e.at);
      up(e.at);
      down(last.at);
    }
  };
  const take = (): Waiting | undefined => {
    while (head < queue.length && queue[head]!.taken) head++;
    if (head > 1024 && head * 2 > queue.length) queue.splice(0, head), (head = 0);
    const oldest = queue[head];
    if (!oldest) return undefined;
    const e = starts - oldest.startsBefore >= patience ? oldest : heap[0]!;
    remove(e);
    return e;
  };
  const next = () => {
    while (running < concurrency) {
      const e = take();
      if (!e) return;
      e.taken = true;
      running++;
      starts++;
      e.start();
    }
  };
  return <T>(size: number, task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const e: Waiting = {
        size,
        seq: arrivals++,
        startsBefore: starts,
        taken: false,
        at: 0,
        start: () => {
          Promise.resolve()
            .then(task)
            .then(resolve, reject)
            .finally(() => {
              running--;
              next();
            });
        },
      };
      queue.push(e);
      place(e, heap.length);
      up(e.at);
      next();
    });
}
