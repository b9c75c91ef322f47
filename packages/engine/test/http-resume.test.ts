/**
 * Resumable staging (issue 4): an apply killed while downloading keeps its verified downloads;
 * the next apply of the same release takes them (verified again by hash) instead of downloading
 * them again, and removes what is left.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempDir, makeRelease, cleanupTemps, spawnCli, cliResult, snapshotTree } from '@codemate-txn/testkit';
import { startReleaseServer } from '../../fetch/test/helpers/release-server.js';

test.after(cleanupTemps);

test('an apply killed mid-download keeps its verified downloads; the next apply downloads only the rest', async () => {
  const root = tempDir('resume-');
  const tree: Record<string, string> = {};
  for (let i = 0; i < 40; i++) tree[`f${String(i).padStart(2, '0')}.txt`] = `file ${i} `.repeat(50);
  await makeRelease(path.join(root, 'site', 'rel'), { app: 'acc', version: '1.0.0', tree });
  const server = await startReleaseServer(path.join(root, 'site'));
  try {
    const url = server.url('/rel/manifest.json');
    const target = path.join(root, 'inst', 'app');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Reference run elsewhere: count crash points, pick one in the middle of the downloads.
    const points = path.join(root, 'points.txt');
    const ref = await cliResult(spawnCli(['apply', url, '--target', path.join(root, 'ref', 'app'), '--quiet'], { env: { CODEMATE_TXN_CRASHPOINTS_OUT: points } }));
    assert.is(ref.code, 0, ref.stderr);
    const labels = fs.readFileSync(points, 'utf8').trim().split('\n').map((l) => l.split('\t')[1]!);
    const writes = labels.map((l, i) => [l, i + 1] as const).filter(([l]) => l.startsWith('after write') && !l.includes('.codemate-version'));
    const killAt = writes[Math.floor(writes.length / 2)]![1];
    server.reset();

    const killed = await cliResult(spawnCli(['apply', url, '--target', target, '--quiet'], { env: { CODEMATE_TXN_CRASH_AT: String(killAt) } }));
    assert.is(killed.signal, 'SIGKILL');
    const fetchedBefore = server.requests.filter((r) => r.path.endsWith('.txt')).length;
    assert.ok(fetchedBefore >= 10 && fetchedBefore < 40, `downloaded ${fetchedBefore} files before the kill`);

    const rec = await cliResult(spawnCli(['recover', '--target', target, '--json']));
    assert.is(rec.code, 0, rec.stderr);
    const resume = path.join(root, 'inst', 'app.staging.resume');
    assert.ok(fs.existsSync(resume), 'the verified downloads are kept for the next apply');
    server.reset();

    const again = await cliResult(spawnCli(['apply', url, '--target', target, '--json']));
    assert.is(again.code, 0, again.stderr);
    const res = JSON.parse(again.stdout);
    const fetchedAfter = server.requests.filter((r) => r.path.endsWith('.txt')).length;
    assert.ok(res.resumed >= 10, `resumed ${res.resumed}`);
    assert.is(fetchedAfter + res.resumed, 40, `downloaded ${fetchedAfter} + resumed ${res.resumed} = every file once`);
    assert.not.ok(fs.existsSync(resume), 'what was kept is gone after use');
    assert.equal(snapshotTree(target).filter((l) => !l.includes('.codemate-version')), snapshotTree(path.join(root, 'site', 'rel', 'files')));
  } finally {
    await server.close();
  }
});

test.run();
