/** Streaming sha256 of a file (read-only; no fault points). */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';

const CHUNK = 1 << 20;

/** Files up to this size are hashed whole and synchronously (cheaper than thread-pool round trips). */
const SMALL = 256 * 1024;

export async function hashFile(path: string, sizeHint?: number): Promise<{ size: number; sha256: string }> {
  if (sizeHint !== undefined && sizeHint <= SMALL) {
    const buf = fs.readFileSync(path);
    return { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
  }
  const fh = await fs.promises.open(path, 'r');
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { size, sha256: h.digest('hex') };
  } finally {
    await fh.close();
  }
}

export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
