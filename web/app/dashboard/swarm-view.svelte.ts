// SwarmView: the dashboard's reactive state — the coordinator's live swarm folded into a model, plus the policy switch.
import type { DashboardMessage } from '../../../core/api/index.ts';
import { openDashboardSocket, type DashboardConnection } from './dashboard-socket.ts';
import { AdminToken } from './admin-token.svelte.ts';
import { requestPolicySwitch } from './policy-switch.ts';
import {
  applySwarmEvent,
  blockCoverage,
  expireDeparted,
  latencySamples,
  modelFromSnapshot,
  rankPredictions,
  type DashboardModel,
} from './swarm-model.ts';

/** Where a policy switch stands: none asked, waiting for confirmation, sent, or answered. */
export type PolicySwitchState =
  | { step: 'idle' }
  | { step: 'confirm'; policy: string }
  | { step: 'sending'; policy: string }
  | { step: 'failed'; policy: string; message: string }
  | { step: 'done'; policy: string; moved: string[] };

export class SwarmView {
  /** The folded model; null until the first snapshot. Replaced, never mutated (raw state). */
  model = $state.raw<DashboardModel | null>(null);
  connection = $state<DashboardConnection>('connecting');
  connectionDetail = $state<string | null>(null);
  policySwitch = $state.raw<PolicySwitchState>({ step: 'idle' });
  /** Last message time, ms: the header shows how fresh the view is. */
  updatedAtMs = $state<number | null>(null);

  readonly coverage = $derived(this.model === null ? [] : blockCoverage(this.model.state));
  readonly samples = $derived(this.model === null ? [] : latencySamples(this.model.routes));
  readonly predictions = $derived(this.model === null ? [] : rankPredictions(this.model.state.predictions));

  /** The admin token a switch needs (asked for in the confirmation dialog, kept for this tab). */
  readonly adminToken = new AdminToken();

  #close: (() => void) | null = null;
  #sweep: ReturnType<typeof setInterval> | null = null;

  /** The model watched (default: the server's first). */
  #modelId: string | undefined;

  constructor(private readonly origin: string, modelId?: string) {
    this.#modelId = modelId;
  }

  /** Opens the live link (idempotent). */
  start(): void {
    if (this.#close !== null) return;
    const close = openDashboardSocket(this.origin, {
      onMessage: (m) => {
        if (this.#close === close) this.receive(m);
      },
      onStatus: (status, detail) => {
        if (this.#close !== null && this.#close !== close) return; // a link of the model watched before (null: this one is opening)
        this.connection = status;
        this.connectionDetail = detail ?? null;
      },
    }, undefined, this.#modelId);
    this.#close = close;
    this.#sweep = setInterval(() => {
      if (this.model !== null) this.model = expireDeparted(this.model, Date.now());
    }, 1_000);
  }

  stop(): void {
    this.#close?.();
    this.#close = null;
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  /** Watches another model's swarm: a new link, a fresh view from its snapshot. */
  watchModel(modelId: string): void {
    if (modelId === this.#modelId) return;
    this.stop();
    this.#modelId = modelId;
    this.model = null;
    this.updatedAtMs = null;
    this.policySwitch = { step: 'idle' };
    this.start();
  }

  /** Folds one message of the dashboard socket. */
  receive(m: DashboardMessage): void {
    if (m.type === 'snapshot') {
      this.model = modelFromSnapshot(m.state, this.model ?? undefined);
      this.updatedAtMs = m.state.atMs;
      return;
    }
    // Events before the first snapshot cannot be placed; the snapshot that follows covers them.
    if (this.model === null) return;
    this.model = applySwarmEvent(this.model, m.atMs, m.event);
    this.updatedAtMs = m.atMs;
  }

  /** First step of a switch: ask the person to confirm (it moves volunteers). */
  askSwitch(policy: string): void {
    this.policySwitch = { step: 'confirm', policy };
  }

  cancelSwitch(): void {
    this.policySwitch = { step: 'idle' };
  }

  /**
   * Sends the confirmed switch with the admin token (`token`, typed in the dialog, is kept first);
   * a refused token is forgotten so the next switch asks again. The new placement arrives as a `placement` event.
   */
  async confirmSwitch(token?: string): Promise<void> {
    const s = this.policySwitch;
    if (s.step !== 'confirm') return;
    if (token !== undefined) this.adminToken.set(token);
    this.policySwitch = { step: 'sending', policy: s.policy };
    const result = await requestPolicySwitch(this.origin, s.policy, this.adminToken.value, undefined, this.#modelId);
    if (!result.ok && result.code === 'unauthorized') this.adminToken.clear();
    this.policySwitch = result.ok
      ? { step: 'done', policy: s.policy, moved: result.changed.moved }
      : { step: 'failed', policy: s.policy, message: result.message };
  }
}
