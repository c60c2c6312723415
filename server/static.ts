// The built web app over HTTP: a precompressed `<file>.gz` (written at build time) to clients that accept gzip, else the file itself.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import express, { type RequestHandler } from 'express';

// "gzip" listed, and not refused with q=0.
function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/**
 * Serves `<file>.gz` with `Content-Encoding: gzip` (and the file's own type) for a GET of a file
 * of `root` that has one beside it, when the client accepts gzip and asks for no byte range;
 * everything else falls through. Paths outside `root` and dotfiles fall through too.
 */
export function precompressedFiles(root: string): RequestHandler {
  const base = path.resolve(root);
  return (req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.headers.range !== undefined) return next();
    res.vary('Accept-Encoding');
    if (!acceptsGzip(req.headers['accept-encoding'])) return next();
    let rel: string;
    try {
      rel = decodeURIComponent(req.path);
    } catch {
      return next();
    }
    if (rel.includes('\0') || rel.split('/').some((s) => s.startsWith('.'))) return next();
    const wanted = path.join(base, rel.endsWith('/') ? `${rel}index.html` : rel);
    if (!wanted.startsWith(base + path.sep)) return next();
    void (async () => {
      // Like express.static's `extensions: ['html']`: /dashboard is dashboard.html.
      const file = (await isFile(`${wanted}.gz`)) ? wanted : path.extname(wanted) === '' && (await isFile(`${wanted}.html.gz`)) ? `${wanted}.html` : undefined;
      if (file === undefined) return next();
      res.type(path.extname(file));
      res.sendFile(`${file}.gz`, { headers: { 'Content-Encoding': 'gzip' }, acceptRanges: false, dotfiles: 'deny' }, (err) => {
        if (err !== undefined && !res.headersSent) next();
      });
    })();
  };
}

/** The web app's handlers: precompressed files first, then express.static (index.html, `/page` for page.html). */
export function webAppHandlers(webDir: string): RequestHandler[] {
  return [precompressedFiles(webDir), express.static(webDir, { index: 'index.html', dotfiles: 'ignore', extensions: ['html'] })];
}
