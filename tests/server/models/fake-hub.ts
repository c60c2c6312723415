// A local HTTP server on 127.0.0.1 that answers the routes @huggingface/hub and the downloader use, like the hub does (test double).
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One repo of the fake hub: a commit per revision name and the files of each commit. */
export interface FakeRepo {
  /** revision name (branch/tag) → commit */
  refs: Record<string, string>;
  /** commit → file name → bytes */
  commits: Record<string, Record<string, Uint8Array>>;
}

/** A request the fake hub saw. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface FakeHub {
  url: string;
  requests: SeenRequest[];
  /** Cut the connection once after this many bytes of the named file's body (one-shot). */
  cutOnce(file: string, afterBytes: number): void;
  /** Only accept requests with this bearer token (401 otherwise). */
  requireToken(token: string | undefined): void;
  close(): Promise<void>;
}

/** Files of a big LFS object (safetensors) are listed with lfs.oid = sha256, as the hub does. */
const isLfs = (name: string): boolean => name.endsWith('.safetensors');

function gitOid(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const requests: SeenRequest[] = [];
  let cut: { file: string; afterBytes: number } | null = null;
  let token: string | undefined;
  const commitOf = (repo: FakeRepo, rev: string): string | undefined => repo.commits[rev] !== undefined ? rev : repo.refs[rev];
  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) return json(401, { error: 'Invalid credentials in Authorization header' });
    const path = decodeURIComponent(url.pathname);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
    if (m !== null) {
      const repo = repos[m[1] ?? ''];
      const commit = repo === undefined ? undefined : commitOf(repo, m[2] ?? '');
      if (repo === undefined || commit === undefined) return json(404, { error: 'Repository not found' });
      return json(200, { _id: `id-${m[1] ?? ''}`, id: m[1], sha: commit, private: false, gated: false, downloads: 0, likes: 0, lastModified: '2026-01-01T00:00:00.000Z', siblings: Object.keys(repo.commits[commit] ?? {}).map((rfilename) => ({ rfilename })) });
    }
    m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(path);
    if (m !== null) {
      const repo = repos[m[1] ?? ''];
      const commit = repo === undefined ? undefined : commitOf(repo, m[2] ?? '');
      if (repo === undefined || commit === undefined) return json(404, { error: 'Repository not found' });
      const files = repo.commits[commit] ?? {};
      return json(200, Object.entries(files).map(([p, bytes]) => ({
        type: 'file', path: p, size: bytes.byteLength, oid: gitOid(bytes),
        ...(isLfs(p) ? { lfs: { oid: sha256(bytes), size: bytes.byteLength, pointerSize: 134 } } : {}),
      })));
    }
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (m !== null) {
      const repo = repos[m[1] ?? ''];
      const commit = repo === undefined ? undefined : commitOf(repo, m[2] ?? '');
      const file = m[3] ?? '';
      const bytes = commit === undefined ? undefined : repo?.commits[commit]?.[file];
      if (bytes === undefined || commit === undefined) {
        res.writeHead(404, { 'x-error-code': 'EntryNotFound' });
        return res.end();
      }
      const headers: Record<string, string> = { 'x-repo-commit': commit, etag: `"${isLfs(file) ? sha256(bytes) : gitOid(bytes)}"`, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      let start = 0;
      let end = bytes.byteLength;
      if (range !== null) {
        start = Number(range[1]);
        end = range[2] === '' ? bytes.byteLength : Number(range[2]) + 1;
        if (start >= bytes.byteLength) {
          res.writeHead(416, { 'content-range': `bytes */${bytes.byteLength}` });
          return res.end();
        }
        headers['content-range'] = `bytes ${start}-${end - 1}/${bytes.byteLength}`;
      }
      headers['content-length'] = String(end - start);
      res.writeHead(range === null ? 200 : 206, headers);
      if (req.method === 'HEAD') return res.end();
      const body = bytes.subarray(start, end);
      if (cut !== null && cut.file === file && cut.afterBytes < body.byteLength) {
        const n = cut.afterBytes;
        cut = null;
        res.write(body.subarray(0, n), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      return res.end(body);
    }
    json(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutOnce: (file, afterBytes) => { cut = { file, afterBytes }; },
    requireToken: (t) => { token = t; },
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
