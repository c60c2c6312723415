// `bouquet serve`: runs the signaling + coordinator server and serves the web app and model files.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isBouquetError } from '../../core/errors/index.ts';
import {
  adminTokenFile, createServer, defaultStateDir, loadTlsCredentials, modelFolder, parseIceConfig, selfSignedTlsCredentials, terminalProgress,
  loadApiKeys, type ModelSource, type OpenAiOptions, type ServerOptions, type TlsCredentials,
} from '../../server/index.ts';
import { startNodeClient } from '../node-peer/index.ts';
import { ArgumentError, argumentError, usageFlags, verbFailure } from './sim-common.ts';
import { defaultServeCombo, placementPolicyNames, policyComboNames, policyCombos, routingPolicyNames } from '../../core/policies/index.ts';

const usage = `usage: bouquet serve [options]

Runs one HTTP server with the PeerJS signaling server (/peerjs), the coordinator API (/api: volunteer
and dashboard WebSockets, routes REST), the model files (/models/<id>/, with Range) and the built web
app (dist/web; build it with \`npm run build\`), all with COOP/COEP headers.

options (environment variable in brackets):
  --port <n>                  TCP port, 0 for any free one [BOUQUET_PORT] (default 8787)
  --host <addr>               interface to listen on [BOUQUET_HOST] (default 127.0.0.1)
  --model <path|hf:id>        model folder: Hugging Face (config.json) or llama2.c (.bin), or
                              hf:owner/repo[@rev] from the hub [BOUQUET_MODEL] (default ../shared/models/stories260K;
                              hub cache $HF_HUB_CACHE, mirror $HF_ENDPOINT, token $HF_TOKEN); repeat it to serve
                              several models in one swarm (the first is the default; BOUQUET_MODEL takes
                              a comma-separated list)
  --model-dir <path>          also serve every model folder under this one at /models/ [BOUQUET_MODEL_DIR]
  --web-dir <path>            built web app folder [BOUQUET_WEB_DIR] (default dist/web)
  --policy <combo>            placement + routing pair, the same as in \`bouquet sim\`: ${policyComboNames.join(', ')}
                              [BOUQUET_POLICY] (default ${defaultServeCombo}: ${policyCombos[defaultServeCombo].placement} + ${policyCombos[defaultServeCombo].routing})
  --placement <name>          placement policy, overrides the combo's: ${placementPolicyNames.join(', ')} [BOUQUET_PLACEMENT]
  --routing <name>            routing policy, overrides the combo's: ${routingPolicyNames.join(', ')} [BOUQUET_ROUTING]
  --weights <precision>       precision volunteers serve: fp32, fp16, q8, q4 [BOUQUET_WEIGHTS] (default fp32)
  --max-session-tokens <n>    longest session the cache is sized for [BOUQUET_MAX_SESSION_TOKENS]
  --reserve-sessions <n>      R: concurrent sessions to reserve cache for (default: from the arrival rate)
  --heartbeat-interval-ms <n> how often volunteers send heartbeats [BOUQUET_HEARTBEAT_INTERVAL_MS] (default 2000)
  --heartbeat-timeout-ms <n>  silence after which a volunteer is dropped [BOUQUET_HEARTBEAT_TIMEOUT_MS] (default 10000)
  --lease-ms <n>              lease length of a granted route [BOUQUET_LEASE_MS] (default 120000)
  --max-moves <n>             volunteers holding blocks that one re-placement may move [BOUQUET_MAX_MOVES] (default 1)
  --default-rtt-ms <n>        RTT assumed for peers a client has not measured [BOUQUET_DEFAULT_RTT_MS] (default 20)
  --verify-share <p>          share of decode steps clients re-run on a second volunteer to check a volunteer
                              with a record, 0..1 (0: no checks) [BOUQUET_VERIFY_SHARE] (default 0.05)
  --verify-probation-share <p> the same for a volunteer on probation (no session report yet), at least
                              --verify-share [BOUQUET_VERIFY_PROBATION_SHARE] (default 0.25)
  --admin-token <token>       the token control actions (policy switch) need as \`Authorization: Bearer\`, ≥ 16
                              characters [BOUQUET_ADMIN_TOKEN] (default: generated at first start in the state dir)
  --state-dir <path|none>     lasting state, owner-only (0600): the generated admin token, the coordinator's
                              signing key (so leases survive a restart) and the banned keys [BOUQUET_STATE_DIR] (default
                              $XDG_STATE_HOME/bouquet, else ~/.local/state/bouquet; none: all for this process only)
  --allow-origin <origins>    comma-separated origins besides this server's whose browser requests are accepted
                              [BOUQUET_ALLOW_ORIGINS] (default: none)
  --ice-servers <urls>        STUN/TURN servers for the pages' WebRTC, comma-separated stun:/turn: URLs
                              (no credentials inside) [BOUQUET_ICE_SERVERS] (default none: same machine or LAN only)
  --turn-secret <secret>      coturn's static-auth-secret (use-auth-secret): each page gets a TURN login valid
                              for --turn-ttl-ms, never a lasting password [BOUQUET_TURN_SECRET]
  --turn-ttl-ms <n>           lifetime of a TURN login [BOUQUET_TURN_TTL_MS] (default 3600000)
  --tls-cert <file>           serve HTTPS with this PEM certificate (a secure context for pages on other
                              machines: WebGPU, threads) [BOUQUET_TLS_CERT]
  --tls-key <file>            its PEM private key [BOUQUET_TLS_KEY]
  --tls-self-signed           make (and reuse) a self-signed certificate for --host, print its SHA-256
                              fingerprint [BOUQUET_TLS_SELF_SIGNED=1]; kept in $XDG_CACHE_HOME/bouquet/tls
  --api-key <key>             a key the OpenAI-compatible API (/v1) needs as \`Authorization: Bearer\`; repeat it for
                              several [BOUQUET_API_KEYS, comma-separated]; keys are also read from <state dir>/api-keys
                              (one a line). No key anywhere: /v1 is open to anyone who reaches the server
  --api-rate <n>              requests per second one API key (or address, without keys) may send to /v1, bursts of
                              5×n [BOUQUET_API_RATE] (default 2)
  --cors-origin <origins>     comma-separated browser origins allowed to call /v1 (CORS) [BOUQUET_CORS_ORIGINS]
                              (default: none; other sites' pages are refused)
  --log-level <level>         pino level: trace, debug, info, warn, error, silent [BOUQUET_LOG_LEVEL] (default info)
  -h, --help                  show this help`;

function intOption(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ArgumentError(`--${name} must be an integer ≥ ${min} (got '${raw}')`);
  return n;
}

function numOption(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new ArgumentError(`--${name} must be a number ≥ 0 (got '${raw}')`);
  return n;
}

// A share of steps, a number in [0, 1].
function shareOption(name: string, raw: string | undefined): number | undefined {
  const n = numOption(name, raw);
  if (n !== undefined && n > 1) throw new ArgumentError(`--${name} must be a share between 0 and 1 (got '${raw}')`);
  return n;
}

// One --model as given, several as a list; the environment's list is comma-separated.
function modelsOption(flags: string[] | undefined, envValue: string | undefined): string | string[] {
  const specs = flags ?? (envValue === undefined || envValue === '' ? ['../shared/models/stories260K'] : envValue.split(',').map((m) => m.trim()));
  if (specs.some((m) => m === '')) throw new ArgumentError('--model must name a model folder or hf:owner/repo (got an empty one)');
  if (new Set(specs).size !== specs.length) throw new ArgumentError(`--model names the same model twice (${specs.join(', ')})`);
  return specs.length === 1 ? (specs[0] as string) : specs;
}

/** Server options of `serve`, with the certificate in use (to print its fingerprint). */
export type ServeOptions = ServerOptions & { tlsInfo?: TlsCredentials & { selfSigned: boolean } };

/**
 * Builds server options from argv and the environment; throws ArgumentError for bad input and a
 * 'bad-certificate' error (data.problem: expired, key-mismatch, …) for a certificate it cannot use.
 */
export function serveOptions(argv: string[], env: NodeJS.ProcessEnv = process.env, nowMs = Date.now()): ServeOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        model: { type: 'string', multiple: true },
        'model-dir': { type: 'string' },
        'web-dir': { type: 'string' },
        policy: { type: 'string' },
        placement: { type: 'string' },
        routing: { type: 'string' },
        weights: { type: 'string' },
        'max-session-tokens': { type: 'string' },
        'reserve-sessions': { type: 'string' },
        'heartbeat-interval-ms': { type: 'string' },
        'heartbeat-timeout-ms': { type: 'string' },
        'lease-ms': { type: 'string' },
        'max-moves': { type: 'string' },
        'default-rtt-ms': { type: 'string' },
        'verify-share': { type: 'string' },
        'verify-probation-share': { type: 'string' },
        'log-level': { type: 'string' },
        'admin-token': { type: 'string' },
        'state-dir': { type: 'string' },
        'allow-origin': { type: 'string' },
        'ice-servers': { type: 'string' },
        'turn-secret': { type: 'string' },
        'turn-ttl-ms': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-self-signed': { type: 'boolean' },
        'api-key': { type: 'string', multiple: true },
        'api-rate': { type: 'string' },
        'cors-origin': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw argumentError(e, usageFlags(usage));
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  const pick = (flag: string | undefined, envName: string): string | undefined => flag ?? (env[envName] === '' ? undefined : env[envName]);
  const policy = pick(v.policy, 'BOUQUET_POLICY') ?? defaultServeCombo;
  if (!Object.hasOwn(policyCombos, policy)) throw new ArgumentError(`--policy must be one of ${policyComboNames.join(', ')} (got '${policy}')`);
  const combo = policyCombos[policy as keyof typeof policyCombos];
  const placement = pick(v.placement, 'BOUQUET_PLACEMENT') ?? combo.placement;
  if (!placementPolicyNames.includes(placement)) throw new ArgumentError(`--placement must be one of ${placementPolicyNames.join(', ')} (got '${placement}')`);
  const routing = pick(v.routing, 'BOUQUET_ROUTING') ?? combo.routing;
  if (!routingPolicyNames.includes(routing)) throw new ArgumentError(`--routing must be one of ${routingPolicyNames.join(', ')} (got '${routing}')`);
  const weights = pick(v.weights, 'BOUQUET_WEIGHTS') ?? 'fp32';
  if (weights !== 'fp32' && weights !== 'fp16' && weights !== 'q8' && weights !== 'q4') throw new ArgumentError(`--weights must be fp32, fp16, q8 or q4 (got '${weights}')`);
  const logLevel = pick(v['log-level'], 'BOUQUET_LOG_LEVEL') ?? 'info';
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) throw new ArgumentError(`--log-level '${logLevel}' is not a pino level`);

  const options: ServeOptions = {
    port: intOption('port', pick(v.port, 'BOUQUET_PORT'), 0) ?? 8787,
    host: pick(v.host, 'BOUQUET_HOST') ?? '127.0.0.1',
    model: modelsOption(v.model, env.BOUQUET_MODEL),
    policy,
    placement,
    routing,
    logger: logLevel,
    modelSizing: { weightPrecision: weights },
    coordinator: {},
  };
  const maxSession = intOption('max-session-tokens', pick(v['max-session-tokens'], 'BOUQUET_MAX_SESSION_TOKENS'), 1);
  if (maxSession !== undefined && options.modelSizing !== undefined) options.modelSizing.maxSessionTokens = maxSession;
  const modelDir = pick(v['model-dir'], 'BOUQUET_MODEL_DIR');
  if (modelDir !== undefined) options.modelDir = modelDir;
  const webDir = pick(v['web-dir'], 'BOUQUET_WEB_DIR');
  if (webDir !== undefined) options.webDir = webDir;
  const reserve = intOption('reserve-sessions', v['reserve-sessions'], 1);
  if (reserve !== undefined) options.placementOptions = { concurrentRequests: reserve };
  const c = options.coordinator ?? {};
  const hbi = intOption('heartbeat-interval-ms', pick(v['heartbeat-interval-ms'], 'BOUQUET_HEARTBEAT_INTERVAL_MS'), 1);
  if (hbi !== undefined) c.heartbeatIntervalMs = hbi;
  const hbt = intOption('heartbeat-timeout-ms', pick(v['heartbeat-timeout-ms'], 'BOUQUET_HEARTBEAT_TIMEOUT_MS'), 1);
  if (hbt !== undefined) c.heartbeatTimeoutMs = hbt;
  const lease = intOption('lease-ms', pick(v['lease-ms'], 'BOUQUET_LEASE_MS'), 1);
  if (lease !== undefined) c.leaseMs = lease;
  const moves = intOption('max-moves', pick(v['max-moves'], 'BOUQUET_MAX_MOVES'), 0);
  if (moves !== undefined) c.maxMovesPerRound = moves;
  const rtt = numOption('default-rtt-ms', pick(v['default-rtt-ms'], 'BOUQUET_DEFAULT_RTT_MS'));
  if (rtt !== undefined) c.network = { defaultRttMs: rtt };
  const verifyShare = shareOption('verify-share', pick(v['verify-share'], 'BOUQUET_VERIFY_SHARE'));
  const probationShare = shareOption('verify-probation-share', pick(v['verify-probation-share'], 'BOUQUET_VERIFY_PROBATION_SHARE'));
  if (verifyShare !== undefined && probationShare !== undefined && probationShare < verifyShare) {
    throw new ArgumentError(`--verify-probation-share (${probationShare}) must be at least --verify-share (${verifyShare}): a new key is checked no less than a known one`);
  }
  if (verifyShare !== undefined || probationShare !== undefined) {
    c.verify = { ...(verifyShare !== undefined ? { share: verifyShare } : {}), ...(probationShare !== undefined ? { probationShare } : {}) };
  }
  options.coordinator = c;
  const adminToken = pick(v['admin-token'], 'BOUQUET_ADMIN_TOKEN');
  const origins = pick(v['allow-origin'], 'BOUQUET_ALLOW_ORIGINS');
  const stateDir = v['state-dir'] ?? defaultStateDir(env);
  if (stateDir !== 'none') options.stateDir = path.resolve(stateDir);
  options.auth = {
    ...(adminToken !== undefined ? { adminToken } : {}),
    ...(origins !== undefined ? { allowedOrigins: origins.split(',').map((o) => o.trim()).filter((o) => o !== '') } : {}),
  };
  options.openai = openAiOptions(v['api-key'], pick(v['api-rate'], 'BOUQUET_API_RATE'), pick(v['cors-origin'], 'BOUQUET_CORS_ORIGINS'), env, options.stateDir);
  const iceList = pick(v['ice-servers'], 'BOUQUET_ICE_SERVERS');
  const turnSecret = pick(v['turn-secret'], 'BOUQUET_TURN_SECRET');
  const turnTtl = intOption('turn-ttl-ms', pick(v['turn-ttl-ms'], 'BOUQUET_TURN_TTL_MS'), 1000);
  if (iceList !== undefined) {
    try {
      options.ice = parseIceConfig(iceList, turnSecret, turnTtl);
    } catch (e) {
      throw new ArgumentError((e as Error).message);
    }
  } else if (turnSecret !== undefined) {
    throw new ArgumentError('--turn-secret needs --ice-servers with a turn: URL');
  }
  const certFile = pick(v['tls-cert'], 'BOUQUET_TLS_CERT');
  const keyFile = pick(v['tls-key'], 'BOUQUET_TLS_KEY');
  const selfSigned = v['tls-self-signed'] === true || env.BOUQUET_TLS_SELF_SIGNED === '1';
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ArgumentError('--tls-cert and --tls-key go together');
  if (selfSigned && certFile !== undefined) throw new ArgumentError('--tls-self-signed makes its own certificate: drop --tls-cert/--tls-key');
  let tls: TlsCredentials | undefined;
  if (certFile !== undefined && keyFile !== undefined) tls = loadTlsCredentials(certFile, keyFile, nowMs);
  else if (selfSigned) {
    const cacheDir = path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'bouquet', 'tls');
    tls = selfSignedTlsCredentials([options.host ?? '127.0.0.1'], cacheDir, nowMs);
  }
  if (tls !== undefined) {
    options.tls = { cert: tls.cert, key: tls.key };
    options.tlsInfo = { ...tls, selfSigned };
  }
  return options;
}

const fail = (message: string): number => verbFailure('serve', message);

/**
 * The OpenAI-compatible API's options: keys from flags (or BOUQUET_API_KEYS) and the state dir's
 * api-keys file, its rate, its CORS origins; its swarm client is the one Node client (tools/node-peer).
 */
function openAiOptions(keyFlags: string[] | undefined, rate: string | undefined, cors: string | undefined, env: NodeJS.ProcessEnv, stateDir: string | undefined): OpenAiOptions {
  const given = keyFlags ?? (env.BOUQUET_API_KEYS === undefined || env.BOUQUET_API_KEYS === '' ? [] : env.BOUQUET_API_KEYS.split(',').map((k) => k.trim()));
  let keys: string[];
  try {
    keys = loadApiKeys(given, stateDir).keys;
  } catch (e) {
    throw new ArgumentError(`--api-key: ${(e as Error).message}`);
  }
  const perSecond = rate === undefined ? 2 : Number(rate);
  if (!Number.isFinite(perSecond) || perSecond <= 0) throw new ArgumentError(`--api-rate must be a number > 0 (got '${String(rate)}')`);
  return {
    client: (origin, modelId) => startNodeClient({ origin, modelId }),
    apiKeys: keys,
    rateLimit: { perSecond, burst: Math.max(1, Math.round(5 * perSecond)) },
    corsOrigins: cors === undefined ? [] : cors.split(',').map((o) => o.trim()).filter((o) => o !== ''),
  };
}

/** Runs `bouquet serve`; resolves with the exit code once the server stops (SIGINT/SIGTERM). */
export async function run(argv: string[]): Promise<number> {
  let options: ServeOptions | 'help';
  try {
    options = serveOptions(argv);
  } catch (e) {
    if (e instanceof ArgumentError) {
      return fail(e.message);
    }
    if (isBouquetError(e, 'bad-certificate')) return fail(`${e.message} [${e.code}: ${String(e.data?.problem)}]`);
    throw e;
  }
  if (options === 'help') {
    console.log(usage);
    return 0;
  }
  let server;
  try {
    const specs = (Array.isArray(options.model) ? options.model : [options.model]) as readonly ModelSource[];
    const sources: ModelSource[] = [];
    for (const spec of specs) {
      if (typeof spec !== 'string' || !spec.startsWith('hf:')) {
        sources.push(spec);
        continue;
      }
      const local = await modelFolder(spec, { onProgress: terminalProgress() });
      sources.push({ path: local.path, modelId: local.id });
    }
    options.model = sources.length === 1 ? (sources[0] as ModelSource) : sources;
    server = await createServer(options);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { code?: string };
    if (err.code === 'EADDRINUSE') {
      return fail(`port ${String(options.port)} is in use; pick another with --port`);
    }
    if (typeof err.code === 'string' && ['bad-model', 'bad-model-config', 'unknown-policy', 'EACCES'].includes(err.code)) {
      return fail(err.message);
    }
    if (isBouquetError(e)) {
      return fail(`${e.message} [${e.code}]`);
    }
    throw e;
  }
  const served = server.models.all().map((s) => `${s.model.info.id}, ${s.model.info.numBlocks} blocks`);
  console.log(`bouquet serve: listening on ${server.url} (model${served.length > 1 ? 's' : ''} ${served.join('; ')})`);
  const stateDir = options.stateDir;
  const tokenAt = options.auth?.adminToken !== undefined ? 'as given' : stateDir !== undefined ? `in ${path.join(stateDir, adminTokenFile)}` : 'made for this process (see the log)';
  console.log(`bouquet serve: admin token ${tokenAt} (the dashboard asks for it before a policy switch)`);
  if (options.tlsInfo !== undefined) {
    const t = options.tlsInfo;
    console.log(`bouquet serve: ${t.selfSigned ? 'self-signed ' : ''}TLS certificate for ${t.subjectAltName ?? '?'}, valid to ${new Date(t.validToMs).toISOString()}`);
    console.log(`bouquet serve: certificate SHA-256 fingerprint ${t.fingerprint256}`);
  }
  const keyCount = options.openai?.apiKeys?.length ?? 0;
  console.log(`bouquet serve: OpenAI-compatible API at ${server.url}/v1 (${keyCount > 0 ? `${keyCount} API key${keyCount > 1 ? 's' : ''}` : 'open: no API key set'}; the server sees every prompt and answer)`);
  if (options.ice !== undefined) {
    console.log(`bouquet serve: ICE servers ${[...options.ice.stunUrls, ...options.ice.turnUrls].join(', ')}${options.ice.turnUrls.length > 0 ? ' (TURN logins derived from --turn-secret)' : ''}`);
  }
  const running = server;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // peer 1.0.2 keeps two internal timers alive after close; exit explicitly.
  process.exit(0);
}
