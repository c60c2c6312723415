// Verb dispatcher of the `bouquet` command; each verb lives in its part and is loaded lazily.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closestName } from '../tools/cli/sim-common.ts';
export interface Verb {
  /** One line shown by `bouquet --help`. */
  summary: string;
  /** Runs the verb with its own arguments; resolves to the process exit code. */
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

export const verbs: Record<string, Verb> = {
  plan: { summary: 'place blocks on a scenario\'s servers with a policy and print the placement', load: () => import('../tools/cli/plan.ts') },
  sim: { summary: 'simulate a scenario under a placement + routing policy', load: () => import('../tools/cli/sim.ts') },
  compare: { summary: 'simulate a scenario under several policies and report the metrics', load: () => import('../tools/cli/compare.ts') },
  generate: { summary: 'generate text with a model in this process (Node, onnxruntime-web wasm)', load: () => import('../tools/cli/generate.ts') },
  serve: { summary: 'run the signaling + coordinator server and the web app', load: () => import('../tools/cli/serve.ts') },
  volunteer: { summary: 'serve blocks of a swarm from this process (Node volunteer over WebRTC, wasm)', load: () => import('../tools/cli/volunteer.ts') },
  chat: { summary: 'generate through a swarm from this process (Node client over WebRTC)', load: () => import('../tools/cli/chat.ts') },
  demo: { summary: 'start a server, volunteer tabs and a client tab in headless Chromium and chat', load: () => import('../tools/cli/demo.ts') },
};

/**
 * The version in the package's package.json: the nearest one above this file named `bouquet`
 * (bin/ in a checkout, dist/lib/bin/ in the installed package).
 */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'bouquet' && typeof pkg.version === 'string') return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return 'unknown';
}

function usage(): string {
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(10)} ${v.summary}`);
  return ['usage: bouquet <verb> [options]   (bouquet <verb> --help for its options; bouquet --version)', '', 'verbs:', ...lines].join('\n');
}

/** Runs `bouquet` with the given arguments; returns the exit code (2 for usage errors). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(packageVersion());
    return 0;
  }
  const verb = Object.hasOwn(verbs, name) ? verbs[name] : undefined;
  if (verb === undefined) {
    const suggestion = closestName(name.replace(/^-+/, ''), Object.keys(verbs));
    console.error(`bouquet: unknown verb '${name}'${suggestion !== undefined ? ` (did you mean '${suggestion}'?)` : ''}\n${usage()}`);
    return 2;
  }
  const mod = await verb.load();
  return mod.run(rest);
}
