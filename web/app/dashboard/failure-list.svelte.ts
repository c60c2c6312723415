// FailureListView: the failed requests clients reported, polled from the coordinator for the dashboard.
import { CoordinatorClient, type FailureRecord } from '../../../core/api/index.ts';

/** How often the dashboard asks for the failure list, ms. */
export const failurePollMs = 3000;

export class FailureListView {
  failures = $state.raw<FailureRecord[]>([]);
  #timer: ReturnType<typeof setInterval> | null = null;
  readonly #client: CoordinatorClient;

  constructor(origin: string) {
    this.#client = new CoordinatorClient({ origin });
  }

  start(): void {
    const poll = (): void => {
      // A coordinator away keeps the last list; the connection badge already says so.
      this.#client.recentFailures().then((f) => (this.failures = f), () => undefined);
    };
    poll();
    this.#timer = setInterval(poll, failurePollMs);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}
