/**
 * Stand-in for `hashFile` from @codemate-txn/fsops while that package is being written: a
 * streaming sha256 that never loads a whole file into memory. Same signature, so switching to
 * fsops is a one-line import change in verify.ts (then delete this file).
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';

const CHUNK = 1 << 20;

export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
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
