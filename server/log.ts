// The server's pino logger: JSON lines for files and pipes, a short human line per record on a terminal.
import { pino, type DestinationStream, type Logger } from 'pino';

/** Where log records go: a Node stream (stdout, stderr) whose `isTTY` picks the format. */
export interface LogStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

const levelNames: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const levelColours: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
// Fields every record carries that the short line shows in its own way (or not at all).
const shownApart = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

function fieldText(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) || value === '' ? JSON.stringify(value) : value;
  if (value !== null && typeof value === 'object' && 'message' in value && typeof value.message === 'string') {
    const code = (value as { code?: unknown }).code;
    return JSON.stringify(typeof code === 'string' ? `${code}: ${value.message}` : value.message);
  }
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON record as a terminal line: `HH:MM:SS LEVEL name: message key=value …` (coloured
 * when `colour`). A line that is not a JSON object passes through unchanged.
 */
export function prettyLogLine(line: string, colour = false): string {
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
    record = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof record.level === 'number' ? record.level : 30;
  const time = typeof record.time === 'number' ? new Date(record.time).toISOString().slice(11, 19) : '';
  const levelName = (levelNames[level] ?? String(level)).padEnd(5);
  const fields = Object.entries(record).filter(([k]) => !shownApart.has(k)).map(([k, v]) => `${k}=${fieldText(v)}`);
  const name = typeof record.name === 'string' ? `${record.name}: ` : '';
  const head = colour ? `\x1b[${levelColours[level] ?? '0'}m${levelName}\x1b[0m` : levelName;
  return `${time} ${head} ${name}${typeof record.msg === 'string' ? record.msg : ''}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}\n`;
}

/** A pino destination that writes each record through {@link prettyLogLine}. */
function prettyStream(out: LogStream): DestinationStream {
  return { write: (chunk: string) => { for (const line of chunk.split('\n')) if (line !== '') out.write(prettyLogLine(line, out.isTTY === true)); } };
}

/**
 * A pino logger at `level` named `name`, writing to `out` (default stdout): readable lines when
 * `out` is a terminal, JSON lines otherwise (for log collectors and `jq`).
 */
export function serverLogger(level: string, name: string, out: LogStream = process.stdout): Logger {
  return pino({ level, name }, out.isTTY === true ? prettyStream(out) : (out as DestinationStream));
}
