/**
 * Retries `check` until it stops throwing (or the deadline passes, rethrowing its last error), so
 * contract suites wait for asynchronous backends (watches, a real API server) without fixed sleeps.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, intervalMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
