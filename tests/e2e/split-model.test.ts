// A model bigger than any one tab: a synthetic checkpoint of ~205 MB served over two volunteer tabs whose budgets each hold at
// most two of its four blocks; the greedy text equals one process's, and each tab's peak memory stays within its budget.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placementMemoryBytes, runtimeMemoryCosts, budgetBytesFor } from '../../core/model/index.ts';
import { maxBlocksFor } from '../../core/placement/index.ts';
import { writeSyntheticCheckpoint, syntheticParams, type SyntheticCheckpointShape } from '../../tools/bench/synthetic-checkpoint.ts';
import { createNetNamespace, netnsUnavailableReason, type NetNamespace } from '../support/netns.ts';
import { rendererPeaks } from './renderer-memory.ts';
import {
  buildApp, chatGenerate, chromiumMissingReason, generateReference, launchInNamespace, openChat, openVolunteer, serveInNamespace, stories260K,
  swarmState, until, volunteerSnapshot, type ServeProcess,
} from './swarm-support.ts';

const skipReason = chromiumMissingReason() ?? netnsUnavailableReason();
const prompt = 'Once upon a time';
const maxNewTokens = 8;
/** 4 blocks of 12.8M parameters (d 1024, FFN 2816) + a 512-token vocabulary: 52M parameters, 205 MB in fp32. */
const shape: SyntheticCheckpointShape = { numBlocks: 4, hiddenSize: 1024, ffnSize: 2816, numHeads: 16, vocabSize: 512, maxSeqLen: 64 };
const MiB = 2 ** 20;
/**
 * How far a tab's peak may pass its budget: the budget's constants (core/model's runtimeMemoryCosts) come from this test's
 * earlier peaks with a margin, and the same tab's peak moved by ±5 % between runs on this loaded 2-core machine (when V8
 * collects the downloaded arrays), so 10 % over is noise, where the 5.9× of the nominal budget it replaced was not.
 */
const peakTolerance = 0.1;

let dir = '';
let ns: NetNamespace | undefined;
let app: { dir: string; remove: () => void } | undefined;
let server: ServeProcess | undefined;
let browser: Browser | undefined;

describe.skipIf(skipReason !== null)(`a model no tab can hold, split over budgeted tabs${skipReason !== null ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bouquet-split-'));
    await writeSyntheticCheckpoint(path.join(dir, 'synthetic-52m'), shape, path.join(stories260K, 'tok512.bin'));
    app = await buildApp();
  }, 120_000);
  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await server?.stop();
    await ns?.remove();
    app?.remove();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('two tabs of two blocks each answer exactly as one process; each tab\'s peak memory stays within its budget', async () => {
    const model = path.join(dir, 'synthetic-52m');
    const reference = generateReference(prompt, maxNewTokens, model);
    ns = await createNetNamespace();
    server = await serveInNamespace(ns, app?.dir ?? '', 8791, ['--max-session-tokens', '64'], { model });
    let context: BrowserContext;
    ({ browser, context } = await launchInNamespace(ns));
    const volunteers: Page[] = [];
    // The budget: the tab's whole memory for two blocks and a few sessions' cache at the runtime's measured cost, so three blocks never fit.
    const probe = await context.newPage();
    await probe.goto(`${server.url}/headless-chat.html?probe=1`);
    const info = (await swarmState(probe)).model;
    await probe.close();
    const budget = budgetBytesFor(2 * info.blockBytes + 8 * info.cacheBytesPerBlock, 'wasm');
    const registered = placementMemoryBytes(budget, 'wasm');
    expect(maxBlocksFor(registered, info)).toBe(2);
    for (let i = 0; i < 2; i++) volunteers.push(await openVolunteer(context, server.url, budget, 'budget'));
    const chat = await openChat(context, server.url);
    await until('two tabs serving all four blocks', async () => {
      const s = await swarmState(chat);
      return s.volunteers.length === 2 && s.placement.uncoveredBlocks.length === 0 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan));
    }, 240_000).catch(async (e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}; tabs: ${JSON.stringify(await Promise.all(volunteers.map(volunteerSnapshot)))}`);
    });
    const state = await swarmState(chat);
    for (const v of state.volunteers) {
      // Placement honoured the budget: at most two blocks, and their weights leave room for a session's cache.
      const blocks = v.span === null ? 0 : v.span.end - v.span.start;
      expect(blocks).toBeLessThanOrEqual(2);
      expect(blocks * info.blockBytes + info.cacheBytesPerBlock).toBeLessThanOrEqual(v.memoryBytes);
      // What it registered is its budget less the runtime's measured cost, not the budget itself.
      expect(v.memoryBytes).toBe(registered);
    }
    const result = await chatGenerate(chat, { prompt, maxNewTokens });
    expect(result.ids).toEqual(reference.ids);
    expect(result.text).toBe(reference.text);
    expect(result.route.length).toBe(2);
    // Peak memory: each renderer's VmHWM. Chromium keeps a spare renderer and may keep a closed tab's for a while, so tabs
    // are told apart by what they hold: the two volunteer tabs hold ~100 MB of weights each, the chat tab 2 MB, an empty tab none.
    const peaks = rendererPeaks(ns.name).sort((a, b) => b.peakBytes - a.peakBytes);
    expect(peaks.length).toBeGreaterThanOrEqual(4);
    const base = Math.min(...peaks.map((p) => p.peakBytes));
    const volunteerPeaks = peaks.slice(0, 2);
    const mib = (b: number): string => `${(b / MiB).toFixed(0)} MiB`;
    const median = [...result.perTokenMs].sort((a, b) => a - b)[Math.floor(result.perTokenMs.length / 2)] ?? NaN;
    console.log([
      `split model: ${(syntheticParams(shape) / 1e6).toFixed(0)}M parameters, 4 blocks of ${(info.blockBytes / MiB).toFixed(1)} MiB; each volunteer tab's budget ${mib(budget)} (registers ${mib(registered)}: ${mib(runtimeMemoryCosts.wasm.fixedBytes)} + ${runtimeMemoryCosts.wasm.bytesPerWeightByte}× weights and cache); ${median.toFixed(0)} ms/token (median); spans ${state.volunteers.map((v) => JSON.stringify(v.span)).join(' ')}`,
      ...volunteerPeaks.map((p, i) => `  volunteer tab ${i + 1}: peak RSS ${mib(p.peakBytes)} = ${mib(p.peakBytes - base)} above an idle renderer's ${mib(base)} (${((p.peakBytes - base) / budget).toFixed(2)}× its budget); now ${mib(p.rssBytes)}`),
      `  chat tab: peak RSS ${mib(peaks[2]?.peakBytes ?? 0)}`,
    ].join('\n'));
    // Every volunteer renderer grew by at least its weights beyond an idle one: the blocks really live in the tabs.
    for (const p of volunteerPeaks) expect(p.peakBytes - base).toBeGreaterThan(2 * info.blockBytes);
    // …and no tab's peak passed the budget its person gave it (beyond the noise of when V8 collects).
    for (const p of volunteerPeaks) expect(p.peakBytes - base).toBeLessThanOrEqual(budget * (1 + peakTolerance));
  }, 420_000);
});
