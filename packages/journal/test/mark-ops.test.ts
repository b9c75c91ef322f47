/** markOps updates runs of consecutive seqs with one statement each: it must mark exactly the seqs given. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as path from 'node:path';
import { Journal, type OpIntent } from '@codemate-txn/journal';
import { sha, tempDir } from './helpers/v1-journal.js';

test('markOps of scattered, unsorted and repeated seqs marks exactly those ops, and the event lists them', () => {
  const j = Journal.open(path.join(tempDir(), 'j.db'));
  const id = j.beginTxn({
    kind: 'install', app: 'demo', fromVersion: null, toVersion: '1.0.0', target: '/srv/app', stagingDir: '/srv/app.staging', backupDir: '/srv/backup',
    keepBackup: false, manifestSha256: sha('m'), manifestSource: 'm.json', pid: 1, host: 'h', user: 'u', toolVersion: '0.1.0',
  }, []);
  const write = (p: string): OpIntent => ({ phase: 'stage', kind: 'write', action: 'stage', path: p, dst: `/srv/app.staging/${p}`, ftype: 'file', size: 1, sha256: sha(p), mode: 0o644, undo: 'none' });
  const seqs = j.addOps(id, Array.from({ length: 12 }, (_, i) => write(`f${i}`)));
  const pick = [seqs[9]!, seqs[0]!, seqs[1]!, seqs[2]!, seqs[5]!, seqs[1]!, seqs[10]!, seqs[11]!];
  j.markOps(id, pick, 'done');
  const want = new Set(pick);
  for (const o of j.ops(id)) assert.is(o.state, want.has(o.seq) ? 'done' : 'pending', `op ${o.seq}`);
  assert.equal(j.verifyChain().problems, [], 'the chain (and the state replay from events) still verifies');
  j.close();
});

test.run();
