// VolunteerView: the volunteer page's reactive state — device, budget, the agent's status, download progress, keep-alive.
import { CoordinatorClient, type Backend, type ModelInfo } from '../../../core/api/index.ts';
import type { BlockSpan } from '../../../core/swarm/index.ts';
import type { VolunteerSnapshot } from '../../volunteer/index.ts';
import { keepAliveWanted, startKeepAlive, type KeepAliveState } from './background-keepalive.ts';
import { budgetRange, describeDevice, type DeviceDescription } from './device-probe.ts';
import { estimateEtaMs } from './download-eta.ts';
import { shouldServe } from './idle-serving.ts';
import { ModelsView } from '../shared/models-view.svelte.ts';

/** The agent as the page drives it (web/volunteer's VolunteerAgent fits). */
export interface VolunteerAgentLike {
  readonly snapshot: VolunteerSnapshot;
  onChange(listener: (s: VolunteerSnapshot) => void): () => void;
  start(): Promise<void>;
  leave(drainMs?: number): Promise<void>;
}

/** What the person chose before starting. */
export interface VolunteerChoice {
  memoryBytes: number;
  backend: Backend;
  /** wasm threads to use (1 without cross-origin isolation). */
  threads: number;
  /** Model to serve (default: the server's first). */
  modelId?: string;
}

/** Builds and wires an agent for this page (PeerJS transport, worker runtime, coordinator socket). */
export type StartVolunteer = (origin: string, choice: VolunteerChoice) => Promise<VolunteerAgentLike>;

/** Download progress as the page shows it. */
export interface DownloadProgress {
  /** Share done in [0, 1], or null while the runtime does not report it (indeterminate bar). */
  fraction: number | null;
  /** Bytes of the assigned blocks' weights, when the assignment is known. */
  totalBytes: number | null;
  /** Remaining time at the rate seen so far, ms; null until there is a rate. */
  etaMs: number | null;
}

export class VolunteerView {
  device = $state.raw<DeviceDescription | null>(null);
  model = $state.raw<ModelInfo | null>(null);
  coordinatorError = $state<string | null>(null);
  memoryBytes = $state(1024 ** 3);
  backend = $state<Backend>('wasm');
  /** wasm threads the runtime may use (the person may cap it below what the device allows). */
  threads = $state(1);
  /** Time spent serving in this page, ms, counted until the last status change (see servingMs). */
  #servedMs = $state(0);
  #servingSinceMs = $state<number | null>(null);
  /** A clock the page advances while serving, so that servingMs moves on screen. */
  nowMs = $state(0);
  /** Serve only while the device is idle (see idle-serving.ts for what counts as idle). */
  idleOnly = $state(false);
  /** Serving was paused because the person is using the device; it resumes when they leave it. */
  pausedForActivity = $state(false);
  #lastInputMs = Number.NEGATIVE_INFINITY;
  snapshot = $state.raw<VolunteerSnapshot | null>(null);
  /** The page's own phase around the agent's: not started, starting, running, stopping. */
  phase = $state<'idle' | 'starting' | 'running' | 'stopping' | 'stopped'>('idle');
  startError = $state<string | null>(null);
  keepAlive = $state.raw<KeepAliveState | null>(null);
  hidden = $state(false);
  /** Blocks the coordinator assigned (read from the swarm state while downloading). */
  assignedSpan = $state.raw<BlockSpan | null>(null);
  #progress = $state.raw<{ atMs: number; fraction: number }[]>([]);
  /** The served models; the person picks one (default: where the swarm needs blocks most). */
  readonly models: ModelsView;

  readonly budget = $derived(this.device === null ? null : budgetRange(this.device, this.model));
  readonly download = $derived.by((): DownloadProgress | null => {
    const s = this.snapshot;
    if (s === null || (s.status !== 'downloading' && s.status !== 'loading')) return null;
    const span = this.assignedSpan;
    const totalBytes = span !== null && this.model !== null ? (span.end - span.start) * this.model.blockBytes : null;
    return { fraction: s.loadFraction, totalBytes, etaMs: s.loadFraction === null ? null : estimateEtaMs(this.#progress) };
  });

  #agent: VolunteerAgentLike | null = null;
  #unsubscribe: (() => void) | null = null;
  #stopKeepAlive: (() => void) | null = null;

  constructor(
    private readonly origin: string,
    private readonly startVolunteer: StartVolunteer,
    /** A `?model=` the page was opened with. */
    requestedModel: string | null = null,
  ) {
    this.models = new ModelsView(origin, 'suggested', requestedModel);
  }

  /** Probes the device and reads the served model; sets the default budget. */
  async init(): Promise<void> {
    const onVisibility = (): void => {
      this.hidden = document.visibilityState === 'hidden';
    };
    document.addEventListener('visibilitychange', onVisibility);
    onVisibility();
    const [device] = await Promise.all([describeDevice(), this.models.refresh().then(() => this.refreshModel())]);
    this.device = device;
    this.memoryBytes = budgetRange(device, this.model).defaultBytes;
    this.backend = device.gpu !== null && !device.gpu.fallbackAdapter ? 'webgpu' : 'wasm';
    this.threads = device.wasmThreads;
  }

  /** Start pressed with "only while idle" on: serving begins once the device is left alone. */
  startWhenIdle(): void {
    if (this.phase === 'idle' || this.phase === 'stopped') this.pausedForActivity = true;
  }

  /** The person touched this page (pointer, key, touch). */
  noteInput(atMs: number = performance.now()): void {
    this.#lastInputMs = atMs;
  }

  /**
   * With "only while idle" on: pauses serving (a drained leave) while the person uses the device and
   * resumes (registers again) once the page is hidden or left alone. Called every second by the page.
   */
  checkActivity(atMs: number = performance.now()): void {
    if (!this.idleOnly) {
      if (this.pausedForActivity && this.phase === 'stopped') {
        this.pausedForActivity = false;
        void this.start();
      }
      return;
    }
    const serve = shouldServe({ idleOnly: true, visible: !this.hidden, msSinceInput: atMs - this.#lastInputMs });
    if (!serve && this.phase === 'running') {
      this.pausedForActivity = true;
      void this.stop();
    } else if (serve && this.pausedForActivity && this.phase === 'stopped') {
      this.pausedForActivity = false;
      void this.start();
    }
  }

  /** Time this page has served blocks, ms (all serving stretches since it opened). */
  get servingMs(): number {
    const since = this.#servingSinceMs;
    return this.#servedMs + (since === null ? 0 : Math.max(0, this.nowMs - since));
  }

  async refreshModel(): Promise<void> {
    try {
      const state = await new CoordinatorClient({ origin: this.origin }).swarmState(undefined, this.models.selectedId ?? undefined);
      const changed = this.model?.id !== state.model.id;
      this.model = state.model;
      this.coordinatorError = null;
      // A model picked before starting gets a budget sized for it.
      if (changed && this.device !== null && (this.phase === 'idle' || this.phase === 'stopped')) this.memoryBytes = budgetRange(this.device, state.model).defaultBytes;
      const me = this.snapshot?.peerId;
      if (me !== undefined) this.assignedSpan = state.volunteers.find((v) => v.peerId === me)?.assignedSpan ?? this.assignedSpan;
    } catch (e) {
      this.coordinatorError = `the coordinator does not answer (${e instanceof Error ? e.message : String(e)})`;
    }
  }

  /** Picks the model to serve (before starting: a running volunteer keeps its model). */
  selectModel(modelId: string): void {
    if (this.phase === 'starting' || this.phase === 'running' || this.phase === 'stopping') return;
    this.models.select(modelId);
    void this.refreshModel();
  }

  /** Starts volunteering with the chosen budget (call from a click: the keep-alive needs the gesture). */
  async start(): Promise<void> {
    if (this.phase === 'starting' || this.phase === 'running') return;
    this.phase = 'starting';
    this.startError = null;
    this.#progress = [];
    this.assignedSpan = null;
    // `?keepAlive=off` leaves it out (to measure what it buys); the page then asks to keep the tab visible.
    if (keepAliveWanted(window.location.search)) {
      const ka = startKeepAlive();
      this.keepAlive = ka.state;
      this.#stopKeepAlive = ka.stop;
    }
    try {
      const threads = Math.max(1, Math.min(this.threads, this.device?.wasmThreads ?? 1));
      const modelId = this.model?.id;
      const agent = await this.startVolunteer(this.origin, { memoryBytes: this.memoryBytes, backend: this.backend, threads, ...(modelId !== undefined ? { modelId } : {}) });
      this.#agent = agent;
      this.snapshot = agent.snapshot;
      this.#unsubscribe = agent.onChange((s) => this.#onSnapshot(s));
      this.phase = 'running';
      await agent.start();
    } catch (e) {
      this.startError = e instanceof Error ? e.message : String(e);
      this.phase = 'stopped';
      this.#release();
    }
  }

  /** Stops: tells the coordinator, lets open sessions finish for a few seconds, goes offline. */
  async stop(): Promise<void> {
    const agent = this.#agent;
    if (agent === null || this.phase === 'stopping') return;
    this.phase = 'stopping';
    try {
      await agent.leave(5_000);
    } finally {
      this.phase = 'stopped';
      this.snapshot = agent.snapshot;
      this.#release();
    }
  }

  /** Leave at once when the tab closes (best effort: the coordinator also notices the socket closing). */
  leaveNow(): void {
    void this.#agent?.leave(0);
  }

  #onSnapshot(s: VolunteerSnapshot): void {
    const before = this.snapshot?.status;
    this.snapshot = s;
    if (s.status === 'downloading' || s.status === 'loading') {
      if (before !== 'downloading' && before !== 'loading') {
        this.#progress = [];
        void this.refreshModel();
      }
      if (s.loadFraction !== null) this.#progress = [...this.#progress.slice(-50), { atMs: performance.now(), fraction: s.loadFraction }];
    }
    if (s.status === 'serving') this.assignedSpan = s.span;
    this.#countServing(s.status === 'serving');
  }

  #countServing(serving: boolean): void {
    const now = performance.now();
    this.nowMs = now;
    const since = this.#servingSinceMs;
    if (serving && since === null) this.#servingSinceMs = now;
    if (!serving && since !== null) {
      this.#servedMs += now - since;
      this.#servingSinceMs = null;
    }
  }

  #release(): void {
    this.#countServing(false);
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#stopKeepAlive?.();
    this.#stopKeepAlive = null;
    this.keepAlive = null;
    this.#agent = null;
  }
}
