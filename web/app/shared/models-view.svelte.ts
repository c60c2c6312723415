// ModelsView: the models a server serves with their coverage, and the one a page picked (each page's model picker).
import { CoordinatorClient, type ModelsList } from '../../../core/api/index.ts';
import { initialModelId, type InitialModel } from './model-choice.ts';

export class ModelsView {
  /** The server's models; null until the first answer. */
  list = $state.raw<ModelsList | null>(null);
  error = $state<string | null>(null);
  /** The model picked (by the page's preference first, then by the person). */
  selectedId = $state<string | null>(null);

  readonly selected = $derived(this.list?.models.find((m) => m.model.id === this.selectedId) ?? null);
  /** True when the server serves more than one model (the picker is shown). */
  readonly several = $derived((this.list?.models.length ?? 0) > 1);

  #client: CoordinatorClient;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    origin: string,
    private readonly initial: InitialModel,
    private readonly requested: string | null = null,
    client?: CoordinatorClient,
  ) {
    this.#client = client ?? new CoordinatorClient({ origin });
  }

  /** Reads the list again (coverage changes as volunteers come and go); the first answer picks the initial model. */
  async refresh(): Promise<void> {
    try {
      const list = await this.#client.models();
      this.list = list;
      this.error = null;
      if (this.selectedId === null || !list.models.some((m) => m.model.id === this.selectedId)) this.selectedId = initialModelId(list, this.initial, this.requested);
    } catch (e) {
      this.error = `the coordinator does not list its models (${e instanceof Error ? e.message : String(e)})`;
    }
  }

  /** Refreshes every `periodMs` until `stop()`. */
  poll(periodMs: number): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => void this.refresh(), periodMs);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  select(modelId: string): void {
    if (this.list?.models.some((m) => m.model.id === modelId) === true) this.selectedId = modelId;
  }
}
