/**
 * Runs at most `concurrency` tasks at once and, of those waiting, starts the largest first (equal
 * sizes in the order they came). A job's conversions go through it with each input's size in bytes:
 * at the end of a job the images still waiting then finish together instead of one large image
 * converting alone while the other cores wait (the longest-first rule for scheduling on parallel
 * machines). Only images already read wait here, at most `concurrency + ioConcurrency` of them, so
 * no image waits behind the whole job.
 *
 * @example
 * const cpu = largestFirst(3);
 * const png = await cpu(jpeg.length, () => convertImage(jpeg, spec, limits));
 */
export function largestFirst(concurrency: number): <T>(size: number, task: () => Promise<T>) => Promise<T> {
  if (!(concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, got ${concurrency}`);
  let running = 0;
  let arrivals = 0;
  // A binary heap ordered by size, then by arrival.
  const heap: { size: number; seq: number; start: () => void }[] = [];
  const before = (a: (typeof heap)[number], b: (typeof heap)[number]) => a.size > b.size || (a.size === b.size && a.seq < b.seq);
  const push = (e: (typeof heap)[number]) => {
    let i = heap.push(e) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!before(heap[i]!, heap[up]!)) break;
      [heap[i], heap[up]] = [heap[up]!, heap[i]!];
      i = up;
    }
  };
  const pop = () => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  const next = () => {
    while (running < concurrency && heap.length) {
      running++;
      pop().start();
    }
  };
  return <T>(size: number, task: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      push({
        size,
        seq: arrivals++,
        start: () => {
          Promise.resolve()
            .then(task)
            .then(resolve, reject)
            .finally(() => {
              running--;
              next();
            });
        },
      });
      next();
    });
}
