// deploy/kubernetes: every manifest the kustomization lists is parsed and validated against the Kubernetes API
// schema of its kind, offline (kubernetes-models; no cluster runs here, so nothing is applied). Beyond the schema,
// the properties the deployment promises are asserted: non-root, read-only root filesystems, resources, probes on
// /healthz, selectors that match, and NetworkPolicies that leave the agents no way out but leash.
// Unknown fields: the schema validators accept them, so schemas.ts also refuses any key no model declares.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../src/policy/load.js';
import { validateObject } from './schemas.js';

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML, read field by field */
type Obj = any;

const kustomization = load(readFileSync(`${DIR}kustomization.yaml`, 'utf8')) as { resources: string[] };
const files = kustomization.resources;
const documents: Obj[] = files.flatMap((file) => loadAll(readFileSync(`${DIR}${file}`, 'utf8')) as Obj[]);
const find = (kind: string, name: string): Obj => {
  const found = documents.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in deploy/kubernetes`);
  return found;
};
const deploymentContainers = (d: Obj): Obj[] => [
  ...(d.spec.template.spec.initContainers ?? []),
  ...d.spec.template.spec.containers,
];

const AGENT_LABEL = { 'leash.dev/agent': 'true' };
const LEASH_LABEL = { 'app.kubernetes.io/name': 'leash' };
const REDIS_LABEL = { 'app.kubernetes.io/name': 'leash-redis' };

describe('deploy/kubernetes: schemas', () => {
  it('the kustomization lists every manifest in the directory, each once', () => {
    const onDisk = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...files].sort()).toEqual(onDisk.sort());
    expect(new Set(files).size).toBe(files.length);
  });

  it.each(documents.map((d) => [`${d.kind} ${d.metadata?.name}`, d] as const))(
    '%s is valid against its schema',
    (_name, document) => {
      expect(() => validateObject(document)).not.toThrow();
    },
  );

  it.each<[name: string, change: (d: Obj) => void, message: RegExp]>([
    [
      'a containerPort written as a string',
      (d) => (d.spec.template.spec.containers[0].ports[0].containerPort = '3128'),
      /containerPort must be integer/,
    ],
    [
      'a Deployment without containers',
      (d) => delete d.spec.template.spec.containers,
      /must have required property containers/,
    ],
    ['replicas written as "two"', (d) => (d.spec.replicas = 'two'), /replicas must be integer/],
    [
      'runAsNonRoot as a string',
      (d) => (d.spec.template.spec.securityContext.runAsNonRoot = 'yes'),
      /runAsNonRoot must be boolean/,
    ],
    [
      'a misspelt field',
      (d) => (d.spec.template.spec.containers[0].readinessProbes = {}),
      /unknown field spec\.template\.spec\.containers\[0\]\.readinessProbes/,
    ],
    [
      'a misspelt field in a probe',
      (d) => (d.spec.template.spec.containers[0].livenessProbe.httpGet.paht = '/'),
      /unknown field .*httpGet\.paht/,
    ],
    [
      'a volume mount without mountPath',
      (d) => delete d.spec.template.spec.containers[0].volumeMounts[0].mountPath,
      /mountPath/,
    ],
  ])('a broken manifest fails: %s', (_name, change, message) => {
    const broken = structuredClone(find('Deployment', 'leash'));
    change(broken);
    expect(() => validateObject(broken)).toThrow(message);
  });

  it('an object of a kind with no known schema fails rather than passing unchecked', () => {
    expect(() => validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toThrow(/no schema known/);
    expect(() => validateObject({ apiVersion: 'apps/v1', kind: 'Service', metadata: { name: 'x' } })).toThrow(
      /no schema known/,
    );
  });
});

describe('deploy/kubernetes: what the deployment promises', () => {
  const leash = find('Deployment', 'leash');
  const pod = leash.spec.template.spec;
  const container = pod.containers.find((c: Obj) => c.name === 'leash');
  const redis = find('Deployment', 'leash-redis');

  it('runs 2 leash replicas whose pods the Service, the PDB and the NetworkPolicies select', () => {
    expect(leash.spec.replicas).toBe(2);
    expect(leash.spec.selector.matchLabels).toEqual(LEASH_LABEL);
    expect(leash.spec.template.metadata.labels).toMatchObject(LEASH_LABEL);
    expect(find('Service', 'leash').spec.selector).toEqual(LEASH_LABEL);
    expect(find('PodDisruptionBudget', 'leash').spec).toEqual({
      minAvailable: 1,
      selector: { matchLabels: LEASH_LABEL },
    });
    expect(find('NetworkPolicy', 'leash').spec.podSelector.matchLabels).toEqual(LEASH_LABEL);
    expect(find('Service', 'leash-redis').spec.selector).toEqual(REDIS_LABEL);
    expect(redis.spec.template.metadata.labels).toMatchObject(REDIS_LABEL);
  });

  it('the Service exposes the proxy port 3128, and only that', () => {
    expect(find('Service', 'leash').spec.ports).toEqual([
      { name: 'proxy', port: 3128, targetPort: 'proxy', protocol: 'TCP' },
    ]);
    expect(container.ports).toEqual([
      { name: 'proxy', containerPort: 3128, protocol: 'TCP' },
      { name: 'admin', containerPort: 9090, protocol: 'TCP' },
    ]);
  });

  it.each([
    ['leash', leash],
    ['leash-redis', redis],
  ])('%s: non-root, read-only root filesystem, no privilege escalation, resources bounded', (_name, deployment) => {
    const spec = deployment.spec.template.spec;
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.securityContext.runAsUser).toBeGreaterThan(0); // the kubelet verifies runAsNonRoot only for a numeric uid
    for (const c of deploymentContainers(deployment)) {
      expect(c.securityContext, c.name).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      for (const kind of ['requests', 'limits'])
        expect(Object.keys(c.resources[kind]).sort(), `${c.name} ${kind}`).toEqual(['cpu', 'memory']);
    }
  });

  it('redis runs redis:7', () => {
    expect(redis.spec.template.spec.containers.map((c: Obj) => c.image)).toEqual(['redis:7']);
  });

  it('probes the admin port, never the proxy port: /readyz for readiness, /healthz for liveness', () => {
    expect(container.args).toEqual(expect.arrayContaining(['--admin', '0.0.0.0:9090']));
    expect(container.ports).toContainEqual({ name: 'admin', containerPort: 9090, protocol: 'TCP' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
  });

  it('configures leash through the environment leash reads', () => {
    expect(container.env).toEqual([
      { name: 'LEASH_LISTEN', value: '0.0.0.0:3128' },
      { name: 'LEASH_STORE', value: 'redis://leash-redis:6379' },
      { name: 'LEASH_AUDIT', value: '/var/log/leash/audit.log' },
    ]);
    expect(container.args).toEqual(
      expect.arrayContaining(['serve', '--policy', '/app/policies', '--certs', '/app/certs']),
    );
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('mounts policies from the ConfigMap, the CA from the Secret (through a 0600 copy) and writable emptyDirs for /tmp and the audit log', () => {
    const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
    const mounts = Object.fromEntries(container.volumeMounts.map((m: Obj) => [m.mountPath, m]));
    expect(volumes[mounts['/app/policies'].name].configMap.name).toBe('leash-policies');
    expect(volumes[mounts['/app/certs'].name].emptyDir).toBeDefined();
    expect(volumes[mounts['/tmp'].name].emptyDir).toBeDefined();
    expect(volumes[mounts['/var/log/leash'].name].emptyDir).toBeDefined();
    expect(volumes['ca-secret'].secret.secretName).toBe('leash-ca');
    const init = pod.initContainers.find((c: Obj) => c.name === 'ca');
    expect(init.command.join(' ')).toContain('install -m 600 /etc/leash-ca/leash-ca.key /app/certs/');
  });

  it("the ConfigMap's policy is one leash accepts", () => {
    const data = find('ConfigMap', 'leash-policies').data as Record<string, string>;
    const result = compilePolicy(Object.entries(data).map(([file, text]) => ({ file, text })));
    expect(result.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(result.policy).toBeDefined();
  });
});

describe('deploy/kubernetes: network policies', () => {
  it('agents may reach the leash pods on 3128 and nothing else, not even DNS', () => {
    const spec = find('NetworkPolicy', 'leash-agents-egress').spec;
    expect(spec.podSelector.matchLabels).toEqual(AGENT_LABEL);
    expect(spec.policyTypes).toEqual(['Egress']);
    expect(spec.egress).toEqual([
      { to: [{ podSelector: { matchLabels: LEASH_LABEL } }], ports: [{ protocol: 'TCP', port: 3128 }] },
    ]);
  });

  it('leash accepts only agents on 3128 and monitoring on the admin port, and reaches DNS, Redis and the internet', () => {
    const spec = find('NetworkPolicy', 'leash').spec;
    expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: AGENT_LABEL } }], ports: [{ protocol: 'TCP', port: 3128 }] },
      {
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        ports: [{ protocol: 'TCP', port: 9090 }],
      },
    ]);
    const [dns, store, internet] = spec.egress;
    expect(dns.ports).toEqual([
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ]);
    expect(store).toEqual({
      to: [{ podSelector: { matchLabels: REDIS_LABEL } }],
      ports: [{ protocol: 'TCP', port: 6379 }],
    });
    expect(internet.to.map((p: Obj) => p.ipBlock.cidr)).toEqual(['0.0.0.0/0', '::/0']);
    expect(internet.to[0].ipBlock.except).toContain('169.254.0.0/16');
  });

  it('only leash reaches Redis, and Redis reaches nothing', () => {
    const spec = find('NetworkPolicy', 'leash-redis').spec;
    expect(spec.podSelector.matchLabels).toEqual(REDIS_LABEL);
    expect(spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: LEASH_LABEL } }], ports: [{ protocol: 'TCP', port: 6379 }] },
    ]);
    expect(spec.egress).toEqual([]);
  });
});
