/** sha256 helpers: one-shot for small buffers, streamed for release files of any size. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

export function sha256Hex(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * Hashes an open file from its start, counting the bytes actually read: the size recorded in the
 * manifest is the size of the bytes hashed, never a separate stat that a writer could race.
 */
export async function hashHandle(fh: fs.promises.FileHandle, sizeHint?: number): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  // A buffer the size of the file (plus a byte, to see the end in one read), up to 1 MiB: a
  // megabyte per small file made building a 100k-file manifest spend most of its time in GC.
  const buf = Buffer.allocUnsafe(sizeHint === undefined ? 1 << 20 : Math.min(1 << 20, Math.max(sizeHint + 1, 4096)));
  let size = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, size);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { sha256: hash.digest('hex'), size };
}
