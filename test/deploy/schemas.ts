// Test helper: validate Kubernetes objects against the API schemas offline, with the validators kubernetes-models
// generates from the Kubernetes OpenAPI document. Each object is checked by the model of its apiVersion and kind;
// a kind this helper does not know is an error, so a new manifest cannot slip through unchecked.

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

/** Throws, naming the kind and name, when `object` breaks its schema or is of a kind not listed above. */
export function validateObject(object: unknown): void {
  if (typeof object !== 'object' || object === null || Array.isArray(object))
    throw new Error('not a Kubernetes object');
  const o = object as Record<string, unknown>;
  const key = `${String(o.apiVersion)}/${String(o.kind)}`;
  const name = String((o.metadata as { name?: unknown } | undefined)?.name);
  const validate = MODELS[key];
  if (!validate) throw new Error(`${key} ${name}: no schema known for this apiVersion and kind`);
  try {
    validate(o);
  } catch (error) {
    throw new Error(`${key} ${name}: ${(error as Error).message}`, { cause: error });
  }
}
