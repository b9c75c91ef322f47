/** The preserved-files fingerprint: recorded before and after, and a change rolls back. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apply, defaultContext } from '@codemate-txn/engine';
import { TxnFs } from '@codemate-txn/fsops';
import { Journal } from '@codemate-txn/journal';
import { tempDir, cleanupTemps, makeTree, sqlite3 } from '@codemate-txn/testkit';
import { ctxWith, makeReleases, snap, USER_FILES } from './helpers.js';

test.after(cleanupTemps);

test('every apply records the preserved-files fingerprint before and after, and they match', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  makeTree(target, USER_FILES);
  const res = await apply(r.l2, { target }, ctxWith());
  const rows = sqlite3(path.join(root, 'inst', 'app.journal.db'), `select action, sha256, size from op where txn_id = ${res.txnId} and kind = 'fingerprint' order by seq`, { readonly: true }).trim().split('\n');
  assert.is(rows.length, 2);
  const [before, after] = rows.map((l) => l.split('|'));
  assert.is(before![0], 'preserve-before');
  assert.is(after![0], 'preserve-after');
  assert.is(before![1], after![1]);
  assert.match(before![1]!, /^[0-9a-f]{64}$/);
  // user_data/, its two files, logs/, logs/run.log, .env.local, src/private.secret, config/user_settings.json
  assert.ok(Number(before![2]) >= 7, `counted ${before![2]} preserved paths`);
});

/** A filesystem seam that, at its first rename, runs a rogue writer's action. */
class RogueFs extends TxnFs {
  fired = false;
  constructor(private readonly rogue: () => void) {
    super({});
  }
  override rename(src: string, dst: string): void {
    if (!this.fired) {
      this.fired = true;
      this.rogue();
    }
    super.rename(src, dst);
  }
}

test('preserved files changed during the transaction: E_PRESERVE_CHANGED, rolled back (exit 1)', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  makeTree(target, USER_FILES);
  const victim = path.join(target, 'user_data', 'notes.db');
  const before = snap(target).filter((l) => !l.includes('user_data/notes.db'));
  const ctx = { ...defaultContext({}), fs: new RogueFs(() => fs.appendFileSync(victim, ' changed')) };
  try {
    await apply(r.l2, { target }, ctx);
    assert.unreachable('the change must be caught');
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_PRESERVE_CHANGED');
    assert.is((e as { exitCode: number }).exitCode, 1);
    assert.match((e as Error).message, /expected fingerprint [0-9a-f]{64}/);
    // E_PRESERVE_CHANGED named only two hashes: the message and details now name the file.
    assert.match((e as Error).message, 'preserved files changed during the transaction: user_data/notes.db (modified);');
    assert.equal((e as { facts: { changed: string[] } }).facts.changed, ['user_data/notes.db (modified)']);
  }
  assert.equal(snap(target).filter((l) => !l.includes('user_data/notes.db')), before, 'everything else is back to the old version');
  const j = Journal.open(path.join(root, 'inst', 'app.journal.db'), { readonly: true });
  assert.is(j.lastTxn()!.state, 'rolled_back');
  assert.is(j.lastTxn()!.errorCode, 'E_PRESERVE_CHANGED');
  j.close();
});

test('a preserved file created mid-transaction outside any preserved directory is caught too (E_PRESERVE_CHANGED)', async () => {
  const root = tempDir();
  const r = await makeReleases(root);
  const target = path.join(root, 'inst', 'app');
  await apply(r.l1, { target }, ctxWith());
  const before = snap(target);
  // `.env` matches a default pattern by basename; nothing preserved existed at the top level before.
  const intruder = path.join(target, 'src', '.env');
  const ctx = { ...defaultContext({}), fs: new RogueFs(() => fs.writeFileSync(intruder, 'TOKEN=late')) };
  try {
    await apply(r.l2, { target }, ctx);
    assert.unreachable('the new preserved file must be caught');
  } catch (e: unknown) {
    assert.is((e as { code: string }).code, 'E_PRESERVE_CHANGED');
    assert.match((e as Error).message, 'src/.env (added)');
  }
  assert.is(fs.readFileSync(intruder, 'utf8'), 'TOKEN=late', 'the user file is left alone');
  assert.equal(snap(target).filter((l) => !l.includes('src/.env')), before, 'everything else is back to the old version');
});

test.run();
