// Bans that survive a restart: the keys convicted of wrong results, one JSON line each in `<state dir>/bans.jsonl`, bounded and checked when read back.
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** File of the bans inside the state dir (owner-only, like the admin token and the coordinator's key). */
export const bansFile = 'bans.jsonl';

/** One ban: the convicted key's peer id (key-bound), when, and the verdict's words. */
export interface BanRecord {
  peerId: string;
  atMs: number;
  reason: string;
}

/** Longest reason kept, characters (a verdict lists every claim's difference; the gist is enough). */
export const maxBanReasonChars = 240;
/** Longest line read back, bytes: a peer id, a time and a reason fit in well under this. */
const maxLineBytes = 1024;
/**
 * Most of the file read back, bytes: its newest part (100,000 bans of ~300 bytes). A longer file,
 * grown by hand or by a bug, is read from its end, so the most recent bans are kept.
 */
export const maxBanFileBytes = 32 * 1024 * 1024;

// PeerJS ids (and key-bound `vk-…` ids) are letters, digits, '-' and '_'.
const peerIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** `raw` as a BanRecord when it is one (reason cut to its bound), else null. */
export function parseBanRecord(raw: unknown): BanRecord | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.peerId !== 'string' || !peerIdPattern.test(o.peerId)) return null;
  if (typeof o.atMs !== 'number' || !Number.isFinite(o.atMs) || o.atMs < 0) return null;
  if (typeof o.reason !== 'string') return null;
  return { peerId: o.peerId, atMs: o.atMs, reason: o.reason.slice(0, maxBanReasonChars) };
}

/**
 * The ban list's file: read once at start (`loaded`), appended to on each ban, rewritten (atomically,
 * through a temporary file) when it holds many more lines than bans. Nothing in it can stop the
 * server: an unreadable file, a damaged or hostile line, a line too long, are skipped with one log
 * line, and a failed write is logged (the ban still holds in memory).
 */
export class BanStore {
  /** The bans read back, oldest first (later lines win: a key banned again moves to the end). */
  readonly loaded: BanRecord[];
  private lines: number;

  private constructor(readonly file: string, private readonly maxRecords: number, private readonly log: Logger) {
    const read = readBans(file, maxRecords);
    this.loaded = read.records;
    this.lines = read.lines;
    if (read.problem !== undefined) log.warn({ file, problem: read.problem }, 'could not read the ban list; starting without the bans it held');
    if (read.skipped > 0) log.warn({ file, skipped: read.skipped, kept: read.records.length }, 'ignored lines of the ban list that are not bans');
    if (read.records.length > 0) log.info({ file, bans: read.records.length }, 'bans read back from the state dir');
    // Damaged, cut or duplicated lines go at once: the file then holds exactly the bans kept.
    if (read.problem === undefined && read.lines > read.records.length) this.rewrite(read.records);
  }

  /** The store of `stateDir` (created 0700 when missing). */
  static inStateDir(stateDir: string, maxRecords: number, log: Logger): BanStore {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    return new BanStore(path.join(stateDir, bansFile), maxRecords, log);
  }

  /** Appends one ban; `current` (every ban held now) is written instead when the file has grown to twice the bans. */
  append(record: BanRecord, current: () => BanRecord[]): void {
    if (this.lines + 1 > 2 * this.maxRecords) {
      this.rewrite(current());
      return;
    }
    try {
      appendFileSync(this.file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      this.lines++;
    } catch (err) {
      this.log.warn({ err, file: this.file, peerId: record.peerId }, 'could not write a ban to the state dir; it holds until the server stops');
    }
  }

  private rewrite(records: readonly BanRecord[]): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, records.map((r) => `${JSON.stringify(r)}\n`).join(''), { mode: 0o600 });
      renameSync(tmp, this.file);
      this.lines = records.length;
    } catch (err) {
      this.log.warn({ err, file: this.file }, 'could not rewrite the ban list in the state dir');
    }
  }
}

/** Reads at most maxBanFileBytes from the end of `file`: the valid bans (the last `maxRecords`), lines seen and skipped. */
function readBans(file: string, maxRecords: number): { records: BanRecord[]; lines: number; skipped: number; problem?: string } {
  if (!existsSync(file)) return { records: [], lines: 0, skipped: 0 };
  let text: string;
  let cut = false;
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, maxBanFileBytes);
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, size - length + got);
        if (n === 0) break;
        got += n;
      }
      text = buf.subarray(0, got).toString('utf8');
      cut = size > length;
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return { records: [], lines: 0, skipped: 0, problem: e instanceof Error ? e.message : String(e) };
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  // A read from the middle starts inside a line: that part line is not a ban.
  let skipped = cut && lines.length > 0 ? 1 : 0;
  if (cut) lines.shift();
  const byPeer = new Map<string, BanRecord>();
  for (const line of lines) {
    let record: BanRecord | null = null;
    if (line.length <= maxLineBytes) {
      try {
        record = parseBanRecord(JSON.parse(line));
      } catch {
        record = null;
      }
    }
    if (record === null) {
      skipped++;
      continue;
    }
    byPeer.delete(record.peerId);
    byPeer.set(record.peerId, record);
  }
  const records = [...byPeer.values()].slice(-maxRecords);
  return { records, lines: lines.length + (cut ? 1 : 0), skipped };
}
