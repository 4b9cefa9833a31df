// A promise with a deadline, for calls to a shared store (Redis) on the request path: a slow store
// must cost a bounded wait, then the caller decides without it.

/**
 * `p`, or a rejection with `onTimeout()` after `ms`. The timer is cleared either way, and a late
 * rejection of the losing `p` is swallowed (nobody waits for it any more).
 */
export function bounded<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([p, timeout]).then(
    (v) => {
      clearTimeout(timer);
      return v;
    },
    (e: unknown) => {
      clearTimeout(timer);
      p.catch(() => {});
      throw e;
    },
  );
}
