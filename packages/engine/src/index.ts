export { apply, planApply } from './apply.js';
export type { ApplyOptions, ApplyResult, ApplyCounts, DryRunResult } from './apply.js';
export { recover } from './recover.js';
export type { RecoverOptions, RecoverResult, RecoverSummary } from './recover.js';
export { defaultContext } from './context.js';
export type { EngineContext, ProgressEvent } from './context.js';
