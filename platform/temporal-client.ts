import * as grpc from '@grpc/grpc-js';
import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

/**
 * A Temporal client connection that closes only once its calls are done.
 *
 * The SDK retries a call that failed for a moment (UNAVAILABLE, RESOURCE_EXHAUSTED, …) from a
 * timer. Closing the channel while such a retry waits makes that timer throw "Channel has been
 * shut down" outside any promise: an uncaught exception that ends the process (the API on
 * SIGTERM, or whichever test file a Jest worker happens to run next). So close() waits for every
 * call to reach its final status, through its retries, for up to `drainMs` (a signal in flight
 * still arrives); a call still retrying then (Temporal down) gets no further retry: its waiting
 * timer makes the last attempt, and the channel closes after that.
 */
export interface TemporalClientConnection {
  connection: Connection;
  /** Calls started and not yet finished (after their retries). */
  inFlight(): number;
  close(drainMs?: number): Promise<void>;
}

/** The SDK's longest retry interval (5 s) and the attempt it then makes. */
const LAST_ATTEMPT_MS = 7_000;

export async function connectTemporalClient(address: string): Promise<TemporalClientConnection> {
  let inFlight = 0;
  let idle: (() => void)[] = [];
  const finished = () => {
    inFlight -= 1;
    if (inFlight > 0) return;
    for (const resolve of idle) resolve();
    idle = [];
  };
  // Outermost, so it sees the status the caller gets: after the retry interceptor gave up or succeeded.
  const track: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        inFlight += 1;
        let done = false;
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            if (!done) {
              done = true;
              finished();
            }
            nextStatus(status);
          },
        });
      },
    });
  let closing = false;
  const retry = defaultGrpcRetryOptions();
  const connection = await Connection.connect({
    address,
    interceptors: [
      track,
      makeGrpcRetryInterceptor({
        ...retry,
        retryableDecider: (attempt, status) => !closing && retry.retryableDecider(attempt, status),
      }),
    ],
  });
  const untilIdle = async (ms: number) => {
    if (inFlight === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => idle.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]);
    clearTimeout(timer);
  };
  return {
    connection,
    inFlight: () => inFlight,
    async close(drainMs = 10_000) {
      await untilIdle(drainMs);
      closing = true;
      await untilIdle(LAST_ATTEMPT_MS);
      await connection.close();
    },
  };
}
