// ChatView: the chat page's reactive state — conversation, streaming answer with its route and latencies, sampling settings.
import { isBouquetError } from '../../../core/errors/index.ts';
import { notServedReason } from '../shared/model-choice.ts';
import { ModelsView } from '../shared/models-view.svelte.ts';
import { blocksInWords } from '../../client/index.ts';
import { defaultSettings, samplingProblem, type AnswerStats, type ChatEngine, type ChatTurn, type SamplingSettings, type StartChat } from './chat-engine.ts';

/** One message on screen. */
export interface ChatMessage {
  id: number;
  role: 'user' | 'assistant';
  text: string;
  state: 'streaming' | 'done' | 'stopped' | 'failed';
  error?: string;
  /** Where a waiting request stands, in words (after ~10 s without a token). */
  status?: string;
  /** The failure is missing volunteers: show the link to volunteer. */
  needsVolunteers?: boolean;
  stats?: AnswerStats;
}

function describeError(e: unknown): string {
  if (isBouquetError(e)) return `${e.message} [${e.code}]`;
  return e instanceof Error ? e.message : String(e);
}

export class ChatView {
  engine = $state.raw<ChatEngine | null>(null);
  engineState = $state<'loading' | 'ready' | 'failed'>('loading');
  engineProgress = $state('Starting…');
  engineError = $state<string | null>(null);
  messages = $state<ChatMessage[]>([]);
  settings = $state<SamplingSettings>({ ...defaultSettings });
  systemPrompt = $state('');
  draft = $state('');
  busy = $state(false);

  readonly settingsProblem = $derived(samplingProblem(this.settings, this.engine?.maxSeqLen ?? 2048));
  readonly canSend = $derived(this.engineState === 'ready' && !this.busy && this.draft.trim() !== '' && this.settingsProblem === null && this.notServed === null);

  /** The last answer can be asked for again (same gates as sending, the draft aside). */
  readonly canRegenerate = $derived(this.engineState === 'ready' && !this.busy && this.settingsProblem === null && this.notServed === null);

  #abort: AbortController | null = null;
  #nextId = 1;

  constructor(
    private readonly origin: string,
    private readonly startChat: StartChat,
    /** A `?model=` the page was opened with. */
    requestedModel: string | null = null,
    /** The served models; the chat goes to the one picked (default: the first fully served). */
    readonly models: ModelsView = new ModelsView(origin, 'served', requestedModel),
  ) {}

  /** Why the picked model cannot answer now (not every block has a serving volunteer), or null. */
  get notServed(): string | null {
    const m = this.models.selected;
    return m === null ? null : notServedReason(m);
  }

  /** The volunteer page, on the picked model when the server serves several. */
  get volunteerHref(): string {
    const id = this.models.selectedId;
    return this.models.several && id !== null ? `/volunteer.html?model=${encodeURIComponent(id)}` : '/volunteer.html';
  }

  async init(): Promise<void> {
    await this.models.refresh();
    await this.#startEngine();
  }

  /** Chats with another model from now on: its client parts load, the conversation stays. */
  async selectModel(modelId: string): Promise<void> {
    if (this.busy || modelId === this.models.selectedId) return;
    this.models.select(modelId);
    this.engine?.close();
    this.engine = null;
    this.engineState = 'loading';
    this.engineError = null;
    await this.#startEngine();
  }

  async #startEngine(): Promise<void> {
    const modelId = this.models.selectedId ?? undefined;
    try {
      const engine = await this.startChat(this.origin, (t) => (this.engineProgress = t), modelId);
      // The person picked another model while this one loaded: keep only the latest.
      if ((this.models.selectedId ?? undefined) !== modelId) return engine.close();
      this.engine = engine;
      this.engineState = 'ready';
    } catch (e) {
      if ((this.models.selectedId ?? undefined) !== modelId) return;
      this.engineError = describeError(e);
      this.engineState = 'failed';
    }
  }

  /** Sends the draft and streams the answer. */
  async send(): Promise<void> {
    const engine = this.engine;
    if (engine === null || !this.canSend) return;
    const text = this.draft.trim();
    this.draft = '';
    this.messages.push({ id: this.#nextId++, role: 'user', text, state: 'done' });
    const turns: ChatTurn[] = [];
    if (this.systemPrompt.trim() !== '' && engine.hasChatTemplate) turns.push({ role: 'system', content: this.systemPrompt.trim() });
    for (const m of this.messages) if (m.state === 'done' || m.role === 'user') turns.push({ role: m.role, content: m.text });
    this.messages.push({ id: this.#nextId++, role: 'assistant', text: '', state: 'streaming', stats: { route: [], tokens: 0, ttftMs: null, perTokenMs: [], totalMs: null, failovers: [] } });
    // Reach the message through the reactive array so that updates render.
    const answer = this.messages[this.messages.length - 1];
    if (answer === undefined) return;
    const stats = answer.stats;
    if (stats === undefined) return;

    this.busy = true;
    // Check coverage first: with blocks nobody serves, say so now instead of waiting for the route to time out.
    const missing = await engine.missingBlocks();
    if (missing.length > 0) {
      const words = `No volunteer serves ${blocksInWords(missing)} of ${engine.modelId} right now, so this cannot be answered yet. Open the volunteer page on a device (a laptop or a phone with a browser) to serve them, then send again.`;
      answer.state = 'failed';
      answer.error = words;
      answer.needsVolunteers = true;
      engine.reportCoverageFailure(missing, words);
      this.busy = false;
      return;
    }
    const abort = new AbortController();
    this.#abort = abort;
    const settings = { ...this.settings };
    // Time to first token as the person sees it, from the click; the engine's figure replaces it at the end.
    const sentAt = performance.now();
    try {
      const promptIds = engine.encodeConversation(turns);
      const result = await engine.generate(promptIds, {
        settings,
        signal: abort.signal,
        onText: (piece) => {
          answer.text += piece;
          delete answer.status;
        },
        onToken: (t) => {
          stats.tokens = t.index + 1;
          if (t.index === 0) stats.ttftMs = performance.now() - sentAt;
          else stats.perTokenMs.push(t.latencyMs);
        },
        onRoute: (r) => (stats.route = r),
        onFailover: (f) => stats.failovers.push(f),
        onStatus: (t) => (answer.status = t),
      });
      stats.route = result.route;
      stats.ttftMs = result.ttftMs;
      stats.perTokenMs = result.perTokenMs;
      stats.totalMs = result.totalMs;
      stats.failovers = result.failovers;
      stats.tokens = result.ids.length;
      answer.state = abort.signal.aborted ? 'stopped' : 'done';
    } catch (e) {
      delete answer.status;
      answer.state = abort.signal.aborted ? 'stopped' : 'failed';
      if (!abort.signal.aborted) answer.error = describeError(e);
      // Coverage lost mid-way (the volunteers of a span left and nobody took over): the same link as before sending.
      if (!abort.signal.aborted && isBouquetError(e, 'no-route')) answer.needsVolunteers = true;
    } finally {
      this.busy = false;
      this.#abort = null;
    }
  }

  /** Stops the answer being generated (it keeps the text so far). */
  stop(): void {
    this.#abort?.abort();
  }

  /**
   * Asks again for the answer `answerId` (the last one): the answer and its question leave the
   * conversation and the question is sent anew, with the current settings.
   */
  async regenerate(answerId: number): Promise<void> {
    const i = this.messages.findIndex((m) => m.id === answerId);
    const question = this.messages[i - 1];
    if (this.busy || i !== this.messages.length - 1 || question?.role !== 'user') return;
    this.messages = this.messages.slice(0, i - 1);
    this.draft = question.text;
    await this.send();
  }

  /** The question an answer continued (a model without a chat template writes on from it), or null. */
  continuedPrompt(answerId: number): string | null {
    if (this.engine?.hasChatTemplate !== false) return null;
    const i = this.messages.findIndex((m) => m.id === answerId);
    const question = this.messages[i - 1];
    return this.messages[i]?.role === 'assistant' && question?.role === 'user' ? question.text : null;
  }

  /** Forgets the conversation. */
  clear(): void {
    if (this.busy) return;
    this.messages = [];
  }

  close(): void {
    this.stop();
    this.models.stop();
    this.engine?.close();
  }
}
