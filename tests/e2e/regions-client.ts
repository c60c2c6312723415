// Driver of tests/e2e/regions-export.test.ts, run inside a region's namespace: waits for the swarm to cover the model, chats twice from
// a Node client (the second route request carries the RTTs the first measured), and prints one JSON line: the chats and the exported scenario.
import { startNodeClient } from '../../tools/node-peer/index.ts';

const [origin = '', volunteers = '0'] = process.argv.slice(2);
const deadline = Date.now() + 90_000;
for (;;) {
  const s = (await (await fetch(`${origin}/api/swarm`)).json()) as { volunteers: { state: string; span: unknown; assignedSpan: unknown }[]; placement: { uncoveredBlocks: number[] } };
  if (s.volunteers.length === Number(volunteers) && s.placement.uncoveredBlocks.length === 0 && s.volunteers.every((v) => v.state === 'serving' && JSON.stringify(v.span) === JSON.stringify(v.assignedSpan))) break;
  if (Date.now() > deadline) throw new Error(`the volunteers did not cover the model in 90 s: ${JSON.stringify(s.volunteers)}`);
  await new Promise((r) => setTimeout(r, 250));
}
const client = await startNodeClient({ origin });
const chats = [];
for (const maxNewTokens of [8, 16]) {
  const res = await client.generate({ prompt: 'Once upon a time', maxNewTokens, sampling: { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 }, seed: 1 });
  chats.push({ tokens: res.ids.length, totalMs: res.totalMs, route: res.route });
}
const scenario: unknown = await (await fetch(`${origin}/api/scenario?requests=20`)).json();
console.log(JSON.stringify({ clientId: client.transport.peerId, chats, scenario }));
await client.close();
process.exit(0);
