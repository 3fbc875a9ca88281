/**
 * Where recording files live. Asterisk writes them in its recording directory (RECORDINGS_DIR,
 * the `spool`); with RECORDINGS_STORE_DIR set, a finished file is moved there (`store`). Rows name a
 * file by location and file name, never by absolute path, so either directory can move. Another
 * backend (object storage such as S3) would implement {@link RecordingStore}; none does yet.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageLocation } from '../records/recording-repository.ts';

/** A file kept: where, how big, its SHA-256 and (for WAVE) how long it plays. */
export interface KeptFile {
  location: StorageLocation;
  fileName: string;
  sizeBytes: number;
  sha256: string;
  durationMs: number | null;
}

export interface RecordingStore {
  /**
   * Keeps the finished file Asterisk wrote: checksummed and, when there is a store, copied there
   * (the spool copy is removed by {@link releaseSpool} once its row says where the file is now).
   * Null when the file is in neither place. Idempotent: a file already moved is checksummed there.
   */
  keep(fileName: string): Promise<KeptFile | null>;
  /** Removes the spool copy of a file kept in the store (nothing when there is no store). */
  releaseSpool(fileName: string): Promise<void>;
  /** Bytes of a kept file; null when it is gone. */
  size(location: StorageLocation, fileName: string): Promise<number | null>;
  /** Reads a kept file, or the bytes `start`..`end` (inclusive) of it. */
  read(location: StorageLocation, fileName: string, range?: { start: number; end: number }): Readable;
  /** SHA-256 of a kept file as it is now; null when it is gone. */
  checksum(location: StorageLocation, fileName: string): Promise<string | null>;
  /** Deletes a kept file; false when it was already gone. */
  remove(location: StorageLocation, fileName: string): Promise<boolean>;
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/** The store on this host's file system: Asterisk's recording directory and an optional archive. */
export class LocalRecordingStore implements RecordingStore {
  readonly #spool: string;
  readonly #store: string | null;

  constructor(options: { spoolDir: string; storeDir: string | null }) {
    this.#spool = options.spoolDir;
    this.#store = options.storeDir;
  }

  #path(location: StorageLocation, fileName: string): string {
    const dir = location === 'store' ? this.#store : this.#spool;
    if (dir === null) throw new Error('no RECORDINGS_STORE_DIR configured for a file kept in the store');
    return join(dir, fileName);
  }

  async keep(fileName: string): Promise<KeptFile | null> {
    const spoolFile = join(this.#spool, fileName);
    if (this.#store === null) return this.#describe('spool', fileName, spoolFile);
    const storeFile = join(this.#store, fileName);
    if (!(await exists(spoolFile))) return this.#describe('store', fileName, storeFile);
    await mkdir(this.#store, { recursive: true });
    // Copy under a temporary name, flush it to disk, then rename: the store never holds half a file.
    const partial = `${storeFile}.partial`;
    const hash = createHash('sha256');
    const source = createReadStream(spoolFile);
    source.on('data', (chunk) => hash.update(chunk));
    await pipeline(source, createWriteStream(partial));
    const handle = await open(partial, 'r');
    await handle.sync();
    await handle.close();
    await rename(partial, storeFile);
    const { size } = await stat(storeFile);
    return {
      location: 'store',
      fileName,
      sizeBytes: size,
      sha256: hash.digest('hex'),
      durationMs: await wavDurationMs(storeFile, size),
    };
  }

  async releaseSpool(fileName: string): Promise<void> {
    if (this.#store === null) return;
    await unlink(join(this.#spool, fileName)).catch((error: unknown) => {
      if (!isMissing(error)) throw error;
    });
  }

  async size(location: StorageLocation, fileName: string): Promise<number | null> {
    try {
      return (await stat(this.#path(location, fileName))).size;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  read(location: StorageLocation, fileName: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.#path(location, fileName), range);
  }

  async checksum(location: StorageLocation, fileName: string): Promise<string | null> {
    try {
      return await sha256Of(this.#path(location, fileName));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async remove(location: StorageLocation, fileName: string): Promise<boolean> {
    try {
      await rm(this.#path(location, fileName));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  async #describe(location: StorageLocation, fileName: string, file: string): Promise<KeptFile | null> {
    try {
      const { size } = await stat(file);
      return {
        location,
        fileName,
        sizeBytes: size,
        sha256: await sha256Of(file),
        durationMs: await wavDurationMs(file, size),
      };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * How long a WAVE file plays, from its `fmt ` chunk and the bytes after its `data` header (not the
 * header's data size: after a crash Asterisk leaves it unwritten). Null for anything else.
 */
export async function wavDurationMs(file: string, size: number): Promise<number | null> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(size, 512));
    await handle.read(head, 0, head.length, 0);
    return wavDurationFromHead(head, size);
  } finally {
    await handle.close();
  }
}

/** {@link wavDurationMs} on the first bytes of a file of `size` bytes (pure). */
export function wavDurationFromHead(head: Buffer, size: number): number | null {
  if (
    head.length < 12 ||
    head.toString('ascii', 0, 4) !== 'RIFF' ||
    head.toString('ascii', 8, 12) !== 'WAVE'
  ) {
    return null;
  }
  let byteRate = 0;
  let offset = 12;
  while (offset + 8 <= head.length) {
    const id = head.toString('ascii', offset, offset + 4);
    const chunkSize = head.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 20 <= head.length) byteRate = head.readUInt32LE(offset + 16);
    if (id === 'data') {
      if (byteRate <= 0) return null;
      return Math.round(((size - (offset + 8)) / byteRate) * 1000);
    }
    offset += 8 + chunkSize + (chunkSize % 2);
  }
  return null;
}
