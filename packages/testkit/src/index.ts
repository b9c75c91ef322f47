/** Test helpers for codemate-txn: temp trees, tree snapshots, the real CLI, the sqlite3 shell. */
export { tempDir, cleanupTemps } from './temp-dir.js';
export { makeTree } from './make-tree.js';
export type { TreeSpec, TreeSpecEntry } from './make-tree.js';
export { snapshotTree } from './snapshot-tree.js';
export type { SnapshotOptions } from './snapshot-tree.js';
export { readTree } from './read-tree.js';
export { inodeOf } from './inode-of.js';
export { runCli, spawnCli, cliResult, cliPath } from './run-cli.js';
export type { CliOptions, CliResult } from './run-cli.js';
export { sqlite3, sqlite3Json, sqlite3Available } from './sqlite3.js';
export type { Sqlite3Options } from './sqlite3.js';
export { makeRelease } from './make-release.js';
export type { ReleaseOptions } from './make-release.js';
export { mountCaseInsensitive, caseInsensitiveUnavailable } from './case-insensitive.js';
export type { CaseInsensitiveMount } from './case-insensitive.js';
