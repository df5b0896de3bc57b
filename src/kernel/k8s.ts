// The Kubernetes form of the kernel rules: a NetworkPolicy that lets the agents' pods (chosen by a label) open TCP
// connections to the leash pods' proxy port and nothing else. The cluster's network plugin enforces it, as nft
// enforces the uid rules on one host, so an agent that ignores HTTPS_PROXY, opens its own socket or tunnels data
// through DNS gets no packet out.
// Why DNS is refused too: a resolver that recurses for the agent is a way out (queries carry data to any
// nameserver an attacker runs), so the agents reach leash by address (the Service's ClusterIP, e.g. from the
// LEASH_SERVICE_HOST variable Kubernetes sets in pods) and leash resolves names after its policy allows them.
// PURE: builds text from its arguments; never talks to a cluster. Deterministic: the same options give the same bytes.

import { dump } from 'js-yaml';
import { LeashError } from '../errors.js';

/** One `key=value` label, as in `kubectl get pods -l key=value`. */
export interface Label {
  readonly key: string;
  readonly value: string;
}

export interface AgentPolicyOptions {
  /** The label that marks the agents' pods. */
  readonly agent: Label;
  /** The label that marks the leash pods (same namespace as the agents: a podSelector alone does not cross namespaces). */
  readonly proxy: Label;
  /** The agents' namespace; omitted, the policy lands in kubectl's current namespace. */
  readonly namespace?: string;
  readonly port: number;
}

export const DEFAULT_PROXY_LABEL: Label = { key: 'app.kubernetes.io/name', value: 'leash' };
export const PROXY_PORT = 3128;

// Label syntax, from the Kubernetes API conventions ("Labels and Selectors"): an optional DNS subdomain prefix and
// a slash, then a name of at most 63 characters; values are at most 63 characters, possibly empty. A value the API
// server would refuse is refused here, with the flag that carried it, rather than by kubectl apply later.
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function isSubdomain(text: string): boolean {
  return text.length <= 253 && text.split('.').every((part) => DNS_LABEL.test(part));
}

/** Parses `KEY=VALUE` for `flag` (named in the error). */
export function parseLabel(text: string, flag: string): Label {
  const eq = text.indexOf('=');
  if (eq < 0) throw new LeashError('LEASH_USAGE', `${flag} needs KEY=VALUE (e.g. leash.dev/agent=true), got "${text}"`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if ((prefix !== undefined && !isSubdomain(prefix)) || !LABEL_NAME.test(name)) {
    throw new LeashError(
      'LEASH_USAGE',
      `${flag}: "${key}" is not a Kubernetes label key ([DNS-SUBDOMAIN/]NAME, NAME at most 63 characters of A-Z a-z 0-9 - _ .)`,
    );
  }
  if (!LABEL_VALUE.test(value))
    throw new LeashError(
      'LEASH_USAGE',
      `${flag}: "${value}" is not a Kubernetes label value (at most 63 characters of A-Z a-z 0-9 - _ ., starting and ending alphanumeric)`,
    );
  return { key, value };
}

/** Checks a namespace name (an RFC 1123 label) for `flag`. */
export function parseNamespace(text: string, flag: string): string {
  if (!DNS_LABEL.test(text))
    throw new LeashError(
      'LEASH_USAGE',
      `${flag}: "${text}" is not a namespace name (at most 63 characters of a-z 0-9 -)`,
    );
  return text;
}

/** The agents' NetworkPolicy as a JSON-shaped object, the form kubectl and the schema validators take. */
export function agentPolicyObject(options: AgentPolicyOptions): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name: 'leash-agents-egress' };
  if (options.namespace !== undefined) metadata.namespace = options.namespace;
  metadata.labels = { 'app.kubernetes.io/managed-by': 'leash' };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: { matchLabels: { [options.agent.key]: options.agent.value } },
      // Egress listed with one rule: everything that rule does not allow is refused, DNS included.
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ podSelector: { matchLabels: { [options.proxy.key]: options.proxy.value } } }],
          ports: [{ protocol: 'TCP', port: options.port }],
        },
      ],
    },
  };
}

/** The YAML `leash rules --format k8s` prints: a comment saying what the policy does and how to load it, then the policy. */
export function renderAgentPolicy(options: AgentPolicyOptions): string {
  const agent = `${options.agent.key}=${options.agent.value}`;
  const proxy = `${options.proxy.key}=${options.proxy.value}`;
  const where = options.namespace === undefined ? "kubectl's current namespace" : `namespace ${options.namespace}`;
  const header = [
    `# leash: pods labelled ${agent} in ${where} may open TCP connections to port ${options.port} of the pods`,
    `# labelled ${proxy} in the same namespace (leash), and nothing else: no other pod or Service, no`,
    '# internet and no DNS. Agents reach leash through the proxy, by address: set HTTPS_PROXY and HTTP_PROXY to',
    `# http://$(LEASH_SERVICE_HOST):${options.port} (Kubernetes sets LEASH_SERVICE_HOST in pods started after the Service`,
    '# "leash"), since a name would need DNS. Traffic to the Service\'s ClusterIP is matched after it is translated to',
    '# a leash pod, so allowing the pods allows the Service. Needs a network plugin that enforces NetworkPolicy',
    '# (Calico, Cilium, ...); without one this object is accepted and does nothing.',
    '# Apply it with: leash rules --format k8s ... | kubectl apply -f -',
  ];
  return `${header.join('\n')}\n${dump(agentPolicyObject(options), { lineWidth: -1, noRefs: true, sortKeys: false })}`;
}
