/**
 * A directory the new version drops is moved to the backup whole (one rename) when the plan saw
 * nothing of the user's in it, and the backup is deleted at cleanup. A file the user (or the
 * running app) put there while the update ran used to be deleted with it, preserved pattern or not
 * (found by a first-time user's trial). Now the update rolls back and the files stay.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cleanupTemps, tempDir } from '@codemate-txn/testkit';
import { apply } from '@codemate-txn/engine';
import { ctxWith, makeReleases } from './helpers.js';

test.after(cleanupTemps);

for (const keepBackup of [false, true]) {
  test(`files added during an update to a directory it removes are not deleted: rolled back, E_PRESERVE_CHANGED${keepBackup ? ' (--keep-backup)' : ''}`, async () => {
    const root = tempDir();
    const r = await makeReleases(root, { 'a.txt': 'a1\n', 'old/x.txt': 'x\n', 'old/sub/y.txt': 'y\n' }, { 'a.txt': 'a2\n' });
    const target = path.join(root, 'inst', 'app');
    await apply(r.l1, { target }, ctxWith());
    const ctx = ctxWith();
    let added = false;
    ctx.onProgress = (ev) => {
      if (ev.phase === 'stage' && !added) {
        added = true;
        fs.writeFileSync(path.join(target, 'old', 'notes.bak'), 'precious\n'); // a default preserve pattern
        fs.writeFileSync(path.join(target, 'old', 'sub', 'user.txt'), 'mine\n'); // not preserved, not the engine's
      }
    };
    let err: { code?: string; message?: string } | undefined;
    await apply(r.l2, { target, keepBackup }, ctx).catch((e: { code?: string; message?: string }) => { err = e; });
    assert.ok(added, 'the files were added mid-update');
    assert.is(err?.code, 'E_PRESERVE_CHANGED', String(err?.message));
    assert.match(String(err?.message), 'old/notes.bak');
    assert.match(String(err?.message), 'old/sub/user.txt');
    assert.is(fs.readFileSync(path.join(target, 'old', 'notes.bak'), 'utf8'), 'precious\n');
    assert.is(fs.readFileSync(path.join(target, 'old', 'sub', 'user.txt'), 'utf8'), 'mine\n');
    assert.is(fs.readFileSync(path.join(target, 'old', 'x.txt'), 'utf8'), 'x\n');
    assert.is(fs.readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a1\n', 'rolled back to the old version');
  });
}

test('a directory the update removes, untouched meanwhile, still goes (and its backup with it)', async () => {
  const root = tempDir();
  const r = await makeReleases(root, { 'a.txt': 'a1\n', 'old/x.txt': 'x\n' }, { 'a.txt': 'a2\n' });
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  await apply(r.l2, { target }, ctxWith());
  assert.not.ok(fs.existsSync(path.join(target, 'old')));
  assert.is(fs.readFileSync(path.join(target, 'a.txt'), 'utf8'), 'a2\n');
});

test.run();
