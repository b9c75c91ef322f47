/** status, log, show, verify: thin over @codemate-txn/audit. */
import type { Command } from 'commander';
import type { Runtime } from './main.js';

export function auditCommands(_program: Command, _rt: Runtime): void {
  // wired once the audit package lands
}
