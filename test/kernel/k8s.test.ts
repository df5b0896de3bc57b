// `leash rules --format k8s`: the agents' NetworkPolicy. Golden files hold the exact text for each named case
// (regenerate with UPDATE_GOLDEN=1 npx vitest run test/kernel/k8s.test.ts and review the diff); every case is also
// checked against the Kubernetes API schema offline, and the policy shipped in deploy/kubernetes must be what the
// generator prints for its label, so the two cannot drift.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import {
  agentPolicyObject,
  DEFAULT_PROXY_LABEL,
  parseLabel,
  parseNamespace,
  PROXY_PORT,
  renderAgentPolicy,
  type AgentPolicyOptions,
} from '../../src/kernel/k8s.js';
import { validateObject } from '../deploy/schemas.js';

const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const DEPLOY = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const K8S_CASES: Readonly<Record<string, AgentPolicyOptions>> = {
  // The label the shipped manifests use, in kubectl's current namespace.
  'agents-default': { agent: { key: 'leash.dev/agent', value: 'true' }, proxy: DEFAULT_PROXY_LABEL, port: PROXY_PORT },
  // Another label, leash's pods under a custom label, and an explicit namespace.
  'agents-namespaced': {
    agent: { key: 'team', value: 'research-bots' },
    proxy: { key: 'app', value: 'egress-proxy' },
    namespace: 'agents',
    port: PROXY_PORT,
  },
};

describe('leash rules --format k8s: golden files', () => {
  it.each(Object.keys(K8S_CASES))('%s matches golden/%s.k8s.yaml', async (name) => {
    const actual = renderAgentPolicy(K8S_CASES[name]!);
    const path = `${GOLDEN_DIR}${name}.k8s.yaml`;
    if (UPDATE) await writeFile(path, actual);
    expect(existsSync(path), `${name}.k8s.yaml is missing; create it with UPDATE_GOLDEN=1`).toBe(true);
    expect(actual).toBe(await readFile(path, 'utf8'));
  });

  it.each(Object.keys(K8S_CASES))('%s is one NetworkPolicy the Kubernetes schema accepts', (name) => {
    const documents = loadAll(renderAgentPolicy(K8S_CASES[name]!));
    expect(documents).toHaveLength(1);
    expect(() => validateObject(documents[0])).not.toThrow();
    expect(documents[0]).toEqual(agentPolicyObject(K8S_CASES[name]!));
  });

  it.each(['true', 'null', '123', '0x1F', '1e3', 'yes', 'on', '~', '', '0777', 'a.b-c_d'])(
    'a label value that looks like another YAML type (%j) stays a string',
    (value) => {
      const options: AgentPolicyOptions = {
        agent: { key: 'agent', value },
        proxy: DEFAULT_PROXY_LABEL,
        port: PROXY_PORT,
      };
      const [document] = loadAll(renderAgentPolicy(options)) as [
        { spec: { podSelector: { matchLabels: Record<string, unknown> } } },
      ];
      expect(document.spec.podSelector.matchLabels).toEqual({ agent: value });
    },
  );

  // kubectl reads YAML the Go way (YAML 1.1), where yes, on, y, off and 0777 are booleans and numbers: such a value
  // must be quoted, or the API server gets a boolean where a label value must be a string.
  it.each(['yes', 'on', 'off', 'y', 'n', 'Y', '0777', '1_000', '0o17', '123', 'true'])(
    '%s is quoted in the YAML text',
    (value) => {
      const text = renderAgentPolicy({ agent: { key: 'agent', value }, proxy: DEFAULT_PROXY_LABEL, port: PROXY_PORT });
      expect(text).toContain(`agent: '${value}'\n`);
    },
  );

  it('rendering is deterministic: the same options render byte for byte the same', () => {
    for (const options of Object.values(K8S_CASES))
      expect(renderAgentPolicy(options)).toBe(renderAgentPolicy({ ...options }));
  });

  it('allows egress to the proxy port of the leash pods only: one rule, one peer, one port, no DNS', () => {
    const spec = agentPolicyObject(K8S_CASES['agents-default']!).spec as Record<string, unknown>;
    expect(spec.policyTypes).toEqual(['Egress']);
    expect(spec.egress).toEqual([
      {
        to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'leash' } } }],
        ports: [{ protocol: 'TCP', port: 3128 }],
      },
    ]);
    expect(spec).not.toHaveProperty('ingress');
  });

  it('deploy/kubernetes/agents.networkpolicy.yaml is what the generator prints for leash.dev/agent=true', async () => {
    const shipped = load(await readFile(`${DEPLOY}agents.networkpolicy.yaml`, 'utf8')) as Record<string, unknown>;
    const generated = agentPolicyObject(K8S_CASES['agents-default']!);
    // The shipped file carries the kustomization's labels instead of managed-by: compare what the policy does.
    expect(shipped.spec).toEqual(generated.spec);
    expect((shipped.metadata as { name: string }).name).toBe((generated.metadata as { name: string }).name);
  });
});

interface LabelRow {
  readonly text: string;
  readonly label?: { key: string; value: string };
  readonly error?: string;
}

describe('label and namespace flags', () => {
  it.each<LabelRow>([
    { text: 'leash.dev/agent=true', label: { key: 'leash.dev/agent', value: 'true' } },
    { text: 'app=', label: { key: 'app', value: '' } },
    { text: 'tier=a=b', error: '"a=b" is not a Kubernetes label value' },
    { text: 'agent', error: 'needs KEY=VALUE' },
    { text: '=x', error: '"" is not a Kubernetes label key' },
    { text: 'Bad_Prefix/app=x', error: '"Bad_Prefix/app" is not a Kubernetes label key' },
    { text: `${'a'.repeat(64)}=x`, error: 'is not a Kubernetes label key' },
    { text: `app=${'v'.repeat(64)}`, error: 'is not a Kubernetes label value' },
    { text: 'app=-x', error: '"-x" is not a Kubernetes label value' },
  ])('$text', ({ text, label, error }) => {
    if (label) expect(parseLabel(text, '--agent-selector')).toEqual(label);
    else expect(() => parseLabel(text, '--agent-selector')).toThrow(error);
  });

  it.each([
    ['agents', true],
    ['Agents', false],
    ['a_b', false],
    ['a'.repeat(64), false],
  ])('namespace %s accepted: %s', (text, ok) => {
    if (ok) expect(parseNamespace(text as string, '--namespace')).toBe(text);
    else expect(() => parseNamespace(text as string, '--namespace')).toThrow('--namespace');
  });
});
