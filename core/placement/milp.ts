// The exact BPRR placement + routing MILP (algorithms.md §3) solved with HiGHS: only tiny instances
// (a handful of servers, R ≤ 3 requests) solve in seconds; use it as a lower bound for the heuristics.
import highsLoader from 'highs';
import { BouquetError, registerErrorKind } from '../errors/index.ts';
import type { Highs } from 'highs';
import type { Chain, SwarmSnapshot } from '../swarm/index.ts';
import { perTokenRttMs } from '../perf/index.ts';
import { checkSnapshot, makeAssignment, nowMs, plannedLengths, predictPlacement } from './common.ts';
import { requestClients } from './objective.ts';
import type { MilpReport, PlacementOptions, PlacementPolicyFactory, PlacementResult } from './types.ts';
import { InfeasiblePlacementError } from './types.ts';

/** The MILP stopped without any integer solution (time limit too short for the instance). */
export class MilpNoSolutionError extends BouquetError<'no-solution'> {
  constructor(message: string) {
    super('no-solution', message);
  }
}
registerErrorKind('MilpNoSolutionError', MilpNoSolutionError);

// The wasm solver is loaded once per process and shared (it keeps no model state between solves).
let highs: Promise<Highs> | undefined;
/** The HiGHS wasm solver, loaded on first use and shared by every caller in the process (this MILP, sim's capacity bound). */
export function loadHighs(): Promise<Highs> {
  highs ??= highsLoader();
  return highs;
}

/** Default MILP time limit, ms. */
export const milpDefaultTimeLimitMs = 10_000;

function num(x: number): string {
  if (!Number.isFinite(x)) throw new BouquetError('bad-snapshot', `MILP coefficient ${x} is not finite`);
  return Number(x.toPrecision(15)).toString();
}

/** Writes Σ c·x terms in LP syntax (skipping zeros), e.g. "+ 3 f_0_1 - 2 s_1". */
function terms(ts: readonly (readonly [number, string])[]): string {
  const parts: string[] = [];
  for (const [c, v] of ts) {
    if (c === 0) continue;
    parts.push(`${c < 0 ? '-' : '+'} ${num(Math.abs(c))} ${v}`);
  }
  return parts.length === 0 ? '0 dummy_zero' : parts.join(' ');
}

/** The MILP in CPLEX LP text, and how to read its solution. */
export interface BprrMilpModel {
  lp: string;
  /** Request r's client. */
  clients: string[];
  /** Server ids in column order (server j ↔ columns s_j, m_j). */
  serverIds: string[];
}

/**
 * Builds the BPRR MILP for R requests (0-based spans: start s_j ∈ [0, L−1], count m_j ∈ [0, L],
 * end E_j = s_j + m_j ≤ L; the client is node 0 with E_0 = 0):
 *   min Σ_r Σ_(i,j) l_out (t_{c_r j} f^r_ij + τ_j g^r_ij)
 *   flow: one unit per request from the source to the sink through servers;
 *   link feasibility f^r_ij = 1 ⇒ s_j ≤ E_i ≤ E_j − 1 (big-M = L + 1); sink link ⇒ E_j = L;
 *   g^r_ij ≥ E_j − E_i − L (1 − f^r_ij), g ≥ 0 (McCormick for g = f·k_ij; the objective and the
 *   memory rows only push g down, so the lower side suffices);
 *   memory (in units of s_c): (s_m / s_c) m_j + Σ_r Σ_i g^r_ij ≤ M_j / s_c.
 */
export function buildBprrMilp(snapshot: SwarmSnapshot, requests: number): BprrMilpModel {
  const L = snapshot.model.numBlocks;
  const { lOut } = plannedLengths(snapshot);
  const { blockBytes: sm, cacheBytesPerBlock: sc } = snapshot.model;
  const clients = requestClients(snapshot, requests);
  const J = snapshot.servers.length;
  const serverIds = snapshot.servers.map((s) => s.id);
  const S = (j: number): string => `s_${j}`;
  const Mv = (j: number): string => `m_${j}`;
  const F = (r: number, i: number, j: number): string => `f_${r}_${i}_${j}`; // i = 0 source, servers 1..J, j = J+1 sink
  const G = (r: number, i: number, j: number): string => `g_${r}_${i}_${j}`;
  const obj: [number, string][] = [];
  const rows: string[] = [];
  const binaries: string[] = [];
  const continuous: string[] = [];
  let rowId = 0;
  const row = (lhs: [number, string][], sense: '<=' | '>=' | '=', rhs: number): void => {
    rows.push(` r${rowId++}: ${terms(lhs)} ${sense} ${num(rhs)}`);
  };
  const memRows: [number, string][][] = snapshot.servers.map((_, j) => [[sm / sc, Mv(j + 1)]]);
  for (let r = 0; r < clients.length; r++) {
    const client = clients[r] ?? '';
    const inflow: [number, string][][] = Array.from({ length: J + 2 }, () => []);
    const outflow: [number, string][][] = Array.from({ length: J + 2 }, () => []);
    for (let i = 0; i <= J; i++) {
      for (let j = 1; j <= J; j++) {
        if (i === j) continue;
        const server = snapshot.servers[j - 1];
        if (server === undefined) continue;
        const f = F(r, i, j);
        const g = G(r, i, j);
        binaries.push(f);
        continuous.push(g);
        inflow[j]?.push([1, f]);
        outflow[i]?.push([1, f]);
        obj.push([lOut * perTokenRttMs(snapshot, client, server.id), f], [lOut * server.decodeMsPerBlock, g]);
        // s_j ≤ E_i  ⇐ f:  s_j − E_i + L f ≤ L
        // E_i ≤ E_j − 1 ⇐ f:  E_i − E_j + (L + 1) f ≤ L
        // g ≥ E_j − E_i − L (1 − f):  g − E_j + E_i − L f ≥ −L
        const Ei: [number, string][] = i === 0 ? [] : [[1, S(i)], [1, Mv(i)]];
        const negEi: [number, string][] = Ei.map(([c, v]) => [-c, v]);
        row([[1, S(j)], ...negEi, [L, f]], '<=', L);
        row([...Ei, [-1, S(j)], [-1, Mv(j)], [L + 1, f]], '<=', L);
        row([[1, g], [-1, S(j)], [-1, Mv(j)], ...Ei, [-L, f]], '>=', -L);
        memRows[j - 1]?.push([1, g]);
      }
      if (i >= 1) {
        const f = F(r, i, J + 1);
        binaries.push(f);
        outflow[i]?.push([1, f]);
        inflow[J + 1]?.push([1, f]);
        // sink only when E_i = L:  L − E_i ≤ L (1 − f)  ⇔  −s_i − m_i + L f ≤ 0
        row([[-1, S(i)], [-1, Mv(i)], [L, f]], '<=', 0);
      }
    }
    row(outflow[0] ?? [], '=', 1);
    row(inflow[J + 1] ?? [], '=', 1);
    for (let j = 1; j <= J; j++) {
      row([...(inflow[j] ?? []), ...(outflow[j] ?? []).map(([c, v]): [number, string] => [-c, v])], '=', 0);
    }
  }
  snapshot.servers.forEach((s, j) => {
    row(memRows[j] ?? [], '<=', s.memoryBytes / sc);
    row([[1, S(j + 1)], [1, Mv(j + 1)]], '<=', L);
  });
  const bounds: string[] = [];
  const general: string[] = [];
  for (let j = 1; j <= J; j++) {
    bounds.push(` 0 <= ${S(j)} <= ${L - 1}`, ` 0 <= ${Mv(j)} <= ${L}`);
    general.push(S(j), Mv(j));
  }
  for (const g of continuous) bounds.push(` ${g} >= 0`);
  const lp = [
    'Minimize',
    ` obj: ${terms(obj)}`,
    'Subject To',
    ...rows,
    'Bounds',
    ...bounds,
    'General',
    ` ${general.join(' ')}`,
    'Binary',
    ...chunk(binaries, 20).map((c) => ` ${c.join(' ')}`),
    'End',
    '',
  ].join('\n');
  return { lp, clients, serverIds };
}

function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** Solution of the BPRR MILP. */
export interface BprrMilpSolution {
  report: MilpReport;
  /** Spans per server id (null when m_j = 0). */
  spans: Map<string, { start: number; end: number } | null>;
  /** Route of each request in the solution. */
  routes: Chain[];
}

/** Solves the BPRR MILP for R requests with a time limit (ms); throws InfeasiblePlacementError or MilpNoSolutionError. */
export async function solveBprrMilp(snapshot: SwarmSnapshot, requests: number, timeLimitMs = milpDefaultTimeLimitMs): Promise<BprrMilpSolution> {
  const L = snapshot.model.numBlocks;
  const model = buildBprrMilp(snapshot, requests);
  const solver = await loadHighs();
  const statusName = new Map<number, string>(Object.entries(solver.constants.modelStatus).map(([k, v]) => [v, k]));
  const out = solver.withModel({ format: 'lp', data: model.lp }, (m) => {
    m.options.set({ time_limit: timeLimitMs / 1000, mip_rel_gap: 0, output_flag: false });
    m.run();
    const status = m.getModelStatus();
    const hasSolution = Number(m.info.get('primal_solution_status')) === 2;
    const read = new Map<string, number>();
    if (hasSolution) {
      const colValue = m.getSolution().colValue;
      for (let c = 0; c < colValue.length; c++) read.set(m.getColName(c), colValue[c] ?? 0);
    }
    return {
      status,
      hasSolution,
      objective: hasSolution ? m.getObjectiveValue() : NaN,
      bound: Number(m.info.get('mip_dual_bound')),
      gap: Number(m.info.get('mip_gap')),
      read,
    };
  });
  const status = statusName.get(out.status) ?? `status ${out.status}`;
  if (out.status === solver.constants.modelStatus.infeasible) {
    throw new InfeasiblePlacementError(`the exact MILP has no placement that caches R = ${requests} sessions on all ${L} blocks within the servers' memory`);
  }
  if (!out.hasSolution) {
    throw new MilpNoSolutionError(`the MILP found no integer solution (${status}) within ${timeLimitMs} ms: raise the time limit or shrink the instance (it suits a handful of servers)`);
  }
  const v = (name: string): number => Math.round(out.read.get(name) ?? 0);
  const J = snapshot.servers.length;
  const spans = new Map<string, { start: number; end: number } | null>();
  snapshot.servers.forEach((s, j) => {
    const start = v(`s_${j + 1}`);
    const m = v(`m_${j + 1}`);
    spans.set(s.id, m > 0 ? { start, end: start + m } : null);
  });
  const routes: Chain[] = [];
  for (let r = 0; r < model.clients.length; r++) {
    const hops: Chain['hops'] = [];
    let at = 0;
    let pos = 0;
    for (let step = 0; step <= J; step++) {
      let next = -1;
      for (let j = 1; j <= J; j++) if (j !== at && v(`f_${r}_${at}_${j}`) === 1) next = j;
      if (next < 0) break;
      const span = spans.get(model.serverIds[next - 1] ?? '');
      const end = span?.end ?? pos;
      hops.push({ serverId: model.serverIds[next - 1] ?? '', span: { start: pos, end } });
      pos = end;
      at = next;
    }
    routes.push({ hops });
  }
  const gap = Number.isFinite(out.gap) ? out.gap : out.objective !== 0 ? (out.objective - out.bound) / Math.abs(out.objective) : 0;
  return { report: { status, objective: out.objective, bound: out.bound, gap }, spans, routes };
}

/**
 * The exact BPRR MILP as a placement policy. Options: `concurrentRequests` (R identical requests of
 * the planned workload, spread over clients by weight; else the workload's R, else 1) and
 * `timeLimitMs` (default 10 s). Only tiny instances (≈ ≤ 5 servers, R ≤ 3, small L) solve to
 * optimality; larger ones return the best solution found with its gap in `milp`.
 */
export const milp: PlacementPolicyFactory = (options: PlacementOptions = {}) => async (snapshot): Promise<PlacementResult> => {
  const t0 = nowMs();
  checkSnapshot(snapshot);
  const R = options.concurrentRequests ?? snapshot.workload.concurrentRequests ?? 1;
  if (!Number.isInteger(R) || R < 1) throw new BouquetError('bad-argument', `concurrentRequests must be a positive integer (got ${R})`);
  const solved = await solveBprrMilp(snapshot, R, options.timeLimitMs ?? milpDefaultTimeLimitMs);
  const assignments = snapshot.servers.map((s) => makeAssignment(snapshot, s, solved.spans.get(s.id) ?? null));
  const prediction = predictPlacement(snapshot, assignments);
  return { policy: 'milp', assignments, prediction, reservedSessions: R, milp: solved.report, runtimeMs: nowMs() - t0 };
};
