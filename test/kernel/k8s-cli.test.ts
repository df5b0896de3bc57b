// `leash rules --format k8s` on the command line: prints the golden NetworkPolicy, and refuses flags that belong to
// the host formats or that would touch a cluster (leash never does: kubectl applies what it prints).

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../cli/run.js';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));

describe('leash rules --format k8s', () => {
  it.each<[name: string, argv: string[]]>([
    ['agents-default', ['--agent-selector', 'leash.dev/agent=true']],
    [
      'agents-namespaced',
      ['--agent-selector', 'team=research-bots', '--namespace', 'agents', '--proxy-selector', 'app=egress-proxy'],
    ],
  ])('prints golden/%s.k8s.yaml', async (name, argv) => {
    const { code, out, err } = await run('rules', '--format', 'k8s', ...argv);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(`${out.join('\n')}\n`).toBe(await readFile(`${GOLDEN}${name}.k8s.yaml`, 'utf8'));
  });

  it.each<[name: string, argv: string[], message: string]>([
    ['--apply', ['--format', 'k8s', '--agent-selector', 'a=b', '--apply'], 'apply it with kubectl apply -f -'],
    ['--remove', ['--format', 'k8s', '--agent-selector', 'a=b', '--remove'], 'apply it with kubectl apply -f -'],
    ['--status', ['--format', 'k8s', '--agent-selector', 'a=b', '--status'], 'apply it with kubectl apply -f -'],
    ['no --agent-selector', ['--format', 'k8s'], '--format k8s needs --agent-selector KEY=VALUE'],
    ['a malformed selector', ['--format', 'k8s', '--agent-selector', 'agent'], '--agent-selector needs KEY=VALUE'],
    [
      'a malformed proxy selector',
      ['--format', 'k8s', '--agent-selector', 'a=b', '--proxy-selector', 'x=-'],
      '--proxy-selector: "-"',
    ],
    [
      'a malformed namespace',
      ['--format', 'k8s', '--agent-selector', 'a=b', '--namespace', 'Agents'],
      '--namespace: "Agents"',
    ],
    ['--user', ['--format', 'k8s', '--agent-selector', 'a=b', '--user', '1001'], '--user is for nft, iptables and pf'],
    [
      '--proxy',
      ['--format', 'k8s', '--agent-selector', 'a=b', '--proxy', '127.0.0.1:3128'],
      '--proxy is for nft, iptables and pf',
    ],
    ['--no-log', ['--format', 'k8s', '--agent-selector', 'a=b', '--no-log'], '--no-log is for nft, iptables and pf'],
    [
      '--agent-selector with nft',
      ['--format', 'nft', '--user', '1001', '--proxy', '127.0.0.1:3128', '--agent-selector', 'a=b'],
      '--agent-selector goes with --format k8s',
    ],
    [
      '--namespace with pf',
      ['--format', 'pf', '--user', '1001', '--proxy', '127.0.0.1:3128', '--namespace', 'x'],
      '--namespace goes with --format k8s',
    ],
    ['an unknown format', ['--format', 'kube'], '--format must be one of nft, iptables, pf, k8s'],
  ])('%s is a usage error', async (_name, argv, message) => {
    const { code, out, err } = await run('rules', ...argv);
    expect(out).toEqual([]);
    expect(code).toBe(2);
    expect(err.join('\n')).toContain(message);
  });
});
