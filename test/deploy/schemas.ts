// Test helper: validate Kubernetes objects against the API schemas offline, with the validators kubernetes-models
// generates from the Kubernetes OpenAPI document. Each object is checked by the model of its apiVersion and kind;
// a kind this helper does not know is an error, so a new manifest cannot slip through unchecked.
// The generated validators accept fields they do not know (the API server, validating strictly, refuses them), so
// every key is also looked up in the vocabulary of field names the models declare: a misspelt field
// (`readinessProbes`) fails. The check is by name, not by type: a real field in the wrong place still passes.

import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';

type Validator = (object: Record<string, unknown>) => void;

const MODELS: Readonly<Record<string, Validator>> = {
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as never).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never).validate(),
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'v1/Namespace': (o) => new Namespace(o as never).validate(),
  'v1/Secret': (o) => new Secret(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
};

// Every `"name"?: type` the models' declaration files declare, read once from node_modules.
function declaredFields(): ReadonlySet<string> {
  const require = createRequire(import.meta.url);
  const roots = ['kubernetes-models', '@kubernetes-models/apimachinery'].map((name) =>
    dirname(require.resolve(`${name}/package.json`)),
  );
  const fields = new Set<string>();
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.d.ts'))
        for (const m of readFileSync(path, 'utf8').matchAll(/^\s*"([^"]+)"\??:/gm)) fields.add(m[1]!);
    }
  };
  for (const root of roots) visit(root);
  return fields;
}

const FIELDS = declaredFields();
// Maps whose keys are the user's (label keys, file names, resource names), not fields.
const FREE_FORM = new Set([
  'labels',
  'annotations',
  'matchLabels',
  'nodeSelector',
  'data',
  'stringData',
  'binaryData',
  'requests',
  'limits',
]);

/** The paths of keys no model declares, e.g. `spec.template.spec.containers[0].readinessProbes`. */
export function unknownFields(value: unknown, path = '', kind = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => unknownFields(item, `${path}[${i}]`, kind));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const here = path === '' ? key : `${path}.${key}`;
    if (!FIELDS.has(key)) return [here];
    // A Service's selector is a plain label map; elsewhere a selector has matchLabels and matchExpressions.
    if (FREE_FORM.has(key) || (kind === 'Service' && here === 'spec.selector')) return [];
    return unknownFields(child, here, kind);
  });
}

/** Throws, naming the kind and name, when `object` breaks its schema or is of a kind not listed above. */
export function validateObject(object: unknown): void {
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    throw new Error('not a Kubernetes object');
  const o = object as Record<string, unknown>;
  const key = `${String(o.apiVersion)}/${String(o.kind)}`;
  const name = String((o.metadata as { name?: unknown } | undefined)?.name);
  const validate = MODELS[key];
  if (!validate) throw new Error(`${key} ${name}: no schema known for this apiVersion and kind`);
  const unknown = unknownFields(o, '', String(o.kind));
  if (unknown.length > 0) throw new Error(`${key} ${name}: unknown field ${unknown.join(', ')}`);
  try {
    validate(o);
  } catch (error) {
    throw new Error(`${key} ${name}: ${(error as Error).message}`, { cause: error });
  }
}
