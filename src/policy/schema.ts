// Structural validation of one policy file against the published JSON Schema (policy.schema.json, the same file
// editors use), turning Ajv's errors into located, operator-readable issues. Semantic checks that a schema cannot
// express (host patterns, CIDRs, references between files) live with the code that compiles those fields.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from './policy.schema.json' with { type: 'json' };
import type { PolicyIssue } from '../errors.js';
import type { ParsedYaml, YamlPath } from './yaml.js';

export const POLICY_SCHEMA = schema;

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
ajv.addKeyword({ keyword: 'x-allowed', schemaType: 'string' });
const validateFile = ajv.compile(schema);

export function checkSchema(parsed: ParsedYaml): PolicyIssue[] {
  return schemaIssues(validateFile, parsed);
}

/** A validator for another YAML format leash reads (policy tests), with the same `x-allowed` messages. */
export function compileSchema(other: object): ValidateFunction {
  return ajv.compile(other);
}

/** `parsed` checked against `validate`: each error located at file:line:column and worded for the operator. */
export function schemaIssues(validate: ValidateFunction, parsed: ParsedYaml): PolicyIssue[] {
  if (validate(parsed.value)) return [];
  const errors = validate.errors ?? [];
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath));
  const seen = new Set<string>();
  const issues: PolicyIssue[] = [];
  for (const error of errors) {
    // Errors from inside an anyOf branch are noise; the anyOf error itself says what is allowed.
    if ([...anyOfPaths].some((p) => error.schemaPath !== p && error.schemaPath.startsWith(`${p}/`))) continue;
    const issue = toIssue(parsed, error);
    const key = `${issue.field}\u0000${issue.location.line}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}

function toIssue(parsed: ParsedYaml, error: ErrorObject): PolicyIssue {
  const path = pointerToPath(parsed.value, error.instancePath);
  const allowed = (error.parentSchema as { 'x-allowed'?: string } | undefined)?.['x-allowed'];
  // A literal agent token or secret value is a secret: say what is wrong without echoing it into terminals and CI logs.
  const secretField = (path[0] === 'agents' && path[2] === 'token') || (path[0] === 'secrets' && path[2] === 'value');
  const secret = secretField && error.data !== null && typeof error.data !== 'object';
  const value = secret ? 'a literal value (not shown: it may be a secret)' : describe(error.data);
  const at = (p: YamlPath, where: 'key' | 'value' = 'value') => ({
    severity: 'error' as const,
    location: parsed.locate(p, where),
    field: fieldName(p),
  });
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params.additionalProperty);
      const known = Object.keys((error.parentSchema as { properties?: object }).properties ?? {});
      const hint = closest(key, known);
      return {
        ...at([...path, key], 'key'),
        message: `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''} (allowed: ${known.join(', ')})`,
      };
    }
    case 'required':
      return { ...at(path), field: fieldName([...path, String(error.params.missingProperty)]), message: 'is required' };
    case 'propertyNames': {
      const name = String(error.params.propertyName);
      const rule = (error.schema as { 'x-allowed'?: string })['x-allowed'];
      return {
        ...at([...path, name], 'key'),
        message: `"${name}" is not a valid name${rule ? `; allowed: ${rule}` : ''}`,
      };
    }
    case 'type':
      return { ...at(path), message: `expected ${allowed ?? String(error.params.type)}, got ${value}` };
    case 'minItems':
      return {
        ...at(path),
        message:
          error.params.limit === 1
            ? `must not be empty${allowed ? `; allowed: ${allowed}` : ''}`
            : `needs at least ${error.params.limit} items`,
      };
    case 'uniqueItems':
      return { ...at(path), message: `lists ${describe((error.data as unknown[])[error.params.i as number])} twice` };
    case 'maxLength':
      return { ...at(path), message: `is longer than ${error.params.limit} characters` };
    default:
      return { ...at(path), message: `${value} is not allowed${allowed ? `; allowed: ${allowed}` : ''}` };
  }
}

function pointerToPath(root: unknown, pointer: string): (string | number)[] {
  const path: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path.push(Number(segment));
      node = node[Number(segment)];
    } else {
      path.push(segment);
      node = (node as Record<string, unknown> | undefined)?.[segment];
    }
  }
  return path;
}

/** `rules[2].domain`, `settings.dns.hosts["api.example.test"]`. */
export function fieldName(path: YamlPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(file)' : out;
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  const text = typeof value === 'object' ? (Array.isArray(value) ? 'a list' : 'a mapping') : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}
