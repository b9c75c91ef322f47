export { computePlan, isEmptyPlan } from './plan.js';
export type { Plan, PlanInput, PlannedEntry, PlanAction, BackupItem, Preserver } from './plan.js';
export { scanTarget } from './scan.js';
export type { TargetScan, CachedStat } from './scan.js';
