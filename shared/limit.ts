/**
 * `fn` over `items`, at most `limit` at a time, results in the order of `items`. Many uploads in one
 * batch (3,000 files in a folder inbox) must not open 3,000 files at once: past the process's file
 * limit every read fails (EMFILE).
 */
export const mapLimit = async <T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> => {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
};
