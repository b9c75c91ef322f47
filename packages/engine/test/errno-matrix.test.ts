/**
 * The errno matrix (issue 3): every injected errno at every filesystem mutation of an update
 * (sampled by default; all with CODEMATE_TXN_FULL_MATRIX=1). Before the commit point: exit 1 and
 * the tree exactly old. After it: success, the tree exactly new, and the leftover cleanup
 * finished by the next run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, recover } from '@codemate-txn/engine';
import { Journal } from '@codemate-txn/journal';
import { tempDir, cleanupTemps, makeTree } from '@codemate-txn/testkit';
import { ctxWith, makeReleases, snap, USER_FILES, type Releases } from './helpers.js';

test.after(cleanupTemps);

const CODES = ['ENOSPC', 'EIO', 'EACCES', 'EXDEV', 'EPERM', 'EBUSY'];
const FULL = process.env.CODEMATE_TXN_FULL_MATRIX === '1';

async function installed(r: Releases, dir: string): Promise<string> {
  const target = path.join(dir, 'app');
  await apply(r.l1, { target }, ctxWith());
  makeTree(target, USER_FILES);
  return target;
}

const beside = (target: string) => fs.readdirSync(path.dirname(target)).filter((n) => !n.startsWith('app.journal.db') && n !== 'app').sort();

test('every injected errno at every mutation ends old (exit 1) or, after the commit point, new', async () => {
  const root = tempDir('errno-');
  const r = await makeReleases(root);
  // Reference run: count mutations and find the commit point.
  const refTarget = await installed(r, path.join(root, 'ref'));
  const oldSnap = snap(refTarget);
  const points = path.join(root, 'points.txt');
  await apply(r.l2, { target: refTarget }, ctxWith({ crashpointsOut: points }));
  const newSnap = snap(refTarget);
  const labels = fs.readFileSync(points, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]!);
  const mutations = labels.filter((l) => l.startsWith('before ')).length;
  const commitAt = labels.slice(0, labels.indexOf('journal committed')).filter((l) => l.startsWith('before ')).length;
  assert.ok(mutations > 20 && commitAt > 10, `mutations ${mutations}, commit after ${commitAt}`);

  let cases = 0;
  let rolled = 0;
  let forward = 0;
  const bad: string[] = [];
  for (const code of CODES) {
    for (let n = 1; n <= mutations; n++) {
      if (!FULL && (n + CODES.indexOf(code)) % 6 !== 0 && n !== commitAt && n !== commitAt + 1) continue;
      cases++;
      const dir = path.join(root, `${code}-${n}`);
      const target = await installed(r, dir);
      try {
        const res = await apply(r.l2, { target }, ctxWith({ failAt: { n, code } }));
        if (n <= commitAt) bad.push(`${code}@${n}: succeeded before the commit point`);
        if (!res.cleanupPending) bad.push(`${code}@${n}: succeeded without reporting the pending cleanup`);
        if (JSON.stringify(snap(target)) !== JSON.stringify(newSnap)) bad.push(`${code}@${n}: succeeded but the tree is not the new version`);
        await recover({ target }, ctxWith());
        if (beside(target).length) bad.push(`${code}@${n}: leftovers after the next run: ${beside(target).join(', ')}`);
        forward++;
      } catch (e: unknown) {
        const ex = e as { exitCode?: number; code?: string };
        if (ex.exitCode !== 1) bad.push(`${code}@${n}: exit ${ex.exitCode} (${ex.code}), expected 1`);
        if (JSON.stringify(snap(target)) !== JSON.stringify(oldSnap)) bad.push(`${code}@${n}: rolled back but the tree is not the old version`);
        if (beside(target).length) bad.push(`${code}@${n}: leftovers: ${beside(target).join(', ')}`);
        rolled++;
      }
      const j = Journal.open(path.join(dir, 'app.journal.db'), { readonly: true });
      const open = j.interruptedTxns();
      j.close();
      if (open.length) bad.push(`${code}@${n}: transactions not final: ${open.map((t) => t.state).join(', ')}`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`  errno matrix: ${rolled}/${rolled} before the commit point rolled back, ${forward}/${forward} after it ended new (${cases} cases${FULL ? '' : ', sampled; CODEMATE_TXN_FULL_MATRIX=1 runs all'})`);
  assert.equal(bad, [], bad.join('\n'));
  assert.ok(rolled > 0 && forward > 0);
});

test.run();
