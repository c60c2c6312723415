// ModelFiles over a local folder (Node only: imports node:fs; never bundled for the browser).
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RuntimeError, type ByteSource, type ModelFiles } from '../../worker/index.ts';

/** A local file read with positioned reads (only the requested bytes are read). */
export class FileByteSource implements ByteSource {
  constructor(readonly name: string) {}

  async size(): Promise<number> {
    try {
      return (await stat(this.name)).size;
    } catch {
      throw new RuntimeError('bad-model', `${this.name}: file not found`);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const fh = await open(this.name, 'r').catch(() => {
      throw new RuntimeError('bad-model', `${this.name}: file not found`);
    });
    try {
      const buf = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got !== length) {
        throw new RuntimeError('bad-weights', `${this.name}: wanted ${length} bytes at offset ${offset}, the file ends after ${got} (truncated?)`);
      }
      return buf;
    } finally {
      await fh.close();
    }
  }
}

/** The files of a model folder on disk. */
export function folderModelFiles(dir: string): ModelFiles {
  return {
    location: dir,
    open: (name) => new FileByteSource(join(dir, name)),
    exists: async (name) => stat(join(dir, name)).then((s) => s.isFile(), () => false),
    list: async () => readdir(dir),
  };
}
