/**
 * The published manifest JSON Schema and its validator. The schema lives in
 * `schema/manifest.schema.json` so that editors and other tools can use the very file the engine
 * validates with; the validator is generated from that file (scripts/gen-validators.mjs), and a
 * test regenerates it and fails when the two have drifted apart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import manifestValidator from './manifest-validator.generated.js';
import { TxnError } from '@codemate-txn/core';

export const SCHEMA_PATH = path.join(__dirname, '..', 'schema', 'manifest.schema.json');

export const MANIFEST_SCHEMA: object = JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8')) as object;

const schemaProps = MANIFEST_SCHEMA as {
  properties: Record<string, unknown>;
  definitions: { entry: { properties: Record<string, unknown> } };
};
const TOP_FIELDS = Object.keys(schemaProps.properties);
const ENTRY_FIELDS = Object.keys(schemaProps.definitions.entry.properties);

/**
 * Compiled from the schema file at build time (scripts/gen-validators.mjs, ajv's standalone code):
 * loading ajv's compiler and compiling the schema cost about 90 ms of every start.
 */
function validator(): ValidateFunction {
  return manifestValidator as unknown as ValidateFunction;
}

/** Throws E_MANIFEST_SCHEMA naming the entry (files[i] and its path), the field and the rule. */
export function validateSchema(data: unknown, location: string): void {
  const validate = validator();
  if (validate(data)) return;
  const errors = validate.errors ?? [];
  // if/then/else report their own wrapper error after the real one; the real one says more.
  const err = errors.find((e) => e.keyword !== 'if') ?? errors[0];
  throw schemaError(data, err, location);
}

function schemaError(data: unknown, err: ErrorObject | undefined, location: string): TxnError {
  const hint = 'fix the manifest so it matches schema/manifest.schema.json (DESIGN §3)';
  if (err === undefined) {
    return new TxnError('E_MANIFEST_SCHEMA', `manifest ${location}: does not match the schema`, { hint });
  }
  // instancePath is a JSON pointer such as /files/3/sha256.
  const ptr = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let where = '';
  let index: number | undefined;
  let entryPath: string | undefined;
  let rest = ptr;
  if (ptr[0] === 'files' && ptr[1] !== undefined && /^\d+$/.test(ptr[1])) {
    index = Number(ptr[1]);
    const entry = (data as { files: unknown[] }).files[index];
    const p = isRecord(entry) && typeof entry.path === 'string' ? entry.path : undefined;
    entryPath = p;
    where = `entry files[${index}]${p === undefined ? '' : ` (${quote(p)})`}`;
    rest = ptr.slice(2);
  }
  const field = rest.map((k, n) => (/^\d+$/.test(k) ? `[${k}]` : n === 0 ? k : `.${k}`)).join('');
  const value = lookup(data, ptr);
  const { rule, found, fieldName } = describe(err, field, value, index !== undefined ? data : undefined, index);
  const subject = where === '' ? '' : `${where}: `;
  const message = `manifest ${location}: ${subject}${rule}${found === '' ? '' : `, found ${found}`}`;
  return new TxnError('E_MANIFEST_SCHEMA', message, {
    hint,
    details: {
      ...(index === undefined ? {} : { index }),
      ...(entryPath === undefined ? {} : { path: entryPath }),
      field: fieldName,
      rule: err.keyword,
      schemaPath: err.schemaPath,
    },
  });
}

function describe(
  err: ErrorObject,
  field: string,
  value: unknown,
  data: unknown,
  index: number | undefined,
): { rule: string; found: string; fieldName: string } {
  const p = err.params as Record<string, unknown>;
  const kind = index === undefined ? '' : `${entryType(data, index)} `;
  switch (err.keyword) {
    case 'required': {
      const name = String(p.missingProperty);
      const full = field === '' ? name : `${field}.${name}`;
      const what = index === undefined ? 'a manifest' : `a ${kind}entry`;
      return { rule: `${what} needs ${quote(full)}`, found: 'none', fieldName: full };
    }
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const full = field === '' ? name : `${field}.${name}`;
      const allowed = index === undefined ? TOP_FIELDS : ENTRY_FIELDS;
      const what = index === undefined ? 'a manifest' : 'an entry';
      return { rule: `${what} may only have ${allowed.join(', ')}`, found: quote(full), fieldName: full };
    }
    case 'false schema':
      // The per-type branches forbid fields that belong to another type (a symlink has no sha256).
      return { rule: `${quote(field)} is not allowed on a ${kind}entry`, found: show(value), fieldName: field };
    case 'const':
      return { rule: `${quote(field)} must be ${JSON.stringify(p.allowedValue)}`, found: show(value), fieldName: field };
    case 'enum':
      return {
        rule: `${quote(field)} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
        found: show(value),
        fieldName: field,
      };
    default:
      return {
        rule: `${field !== '' ? quote(field) : index === undefined ? 'the manifest' : 'an entry'} ${err.message ?? 'is invalid'}`,
        found: show(value),
        fieldName: field,
      };
  }
}

function entryType(data: unknown, index: number): string {
  const entry = (data as { files: unknown[] }).files[index];
  const t = isRecord(entry) ? entry.type : undefined;
  return t === 'symlink' || t === 'dir' ? t : 'file';
}

function lookup(data: unknown, ptr: string[]): unknown {
  let v: unknown = data;
  for (const k of ptr) {
    if (Array.isArray(v)) v = v[Number(k)];
    else if (isRecord(v)) v = v[k];
    else return undefined;
  }
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON-quoted, so control characters and quotes in hostile input stay visible and harmless. */
export function quote(s: string, max = 200): string {
  const q = JSON.stringify(s);
  return q.length <= max ? q : `${q.slice(0, max - 4)}…"`;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return quote(v, 120);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
