/**
 * A small evaluator of NetworkPolicy semantics (as the API defines them), enough to ask "may this
 * pod open a TCP connection to that one on this port?" of the manifests: a connection is allowed
 * when the source's egress and the destination's ingress both allow it; a pod no policy of a
 * direction selects is open in that direction.
 */
import { K8sObject, selectorMatches } from './manifests';

export interface PodEndpoint {
  kind: 'pod';
  namespace: string;
  labels: Record<string, string>;
}
export interface ExternalEndpoint {
  kind: 'external';
  ip: string;
}
export type Endpoint = PodEndpoint | ExternalEndpoint;

export const pod = (namespace: string, labels: Record<string, string>): PodEndpoint => ({ kind: 'pod', namespace, labels });
export const external = (ip: string): ExternalEndpoint => ({ kind: 'external', ip });

function namespaceLabels(namespace: string): Record<string, string> {
  // Set by the API server on every namespace.
  return { 'kubernetes.io/metadata.name': namespace };
}

function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const toInt = (a: string) => a.split('.').reduce((n, octet) => (n << 8) + Number(octet), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (toInt(ip) & mask) === (toInt(base) & mask);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function peerMatches(peer: any, policyNamespace: string, other: Endpoint): boolean {
  if (peer.ipBlock) {
    if (other.kind !== 'external') return false;
    return ipInCidr(other.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((c: string) => ipInCidr(other.ip, c));
  }
  if (other.kind !== 'pod') return false;
  const namespaceOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, namespaceLabels(other.namespace))
    : other.namespace === policyNamespace;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, other.labels) : true;
  return namespaceOk && podOk;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function portMatches(ports: any[] | undefined, port: number): boolean {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || (p.endPort ? port >= p.port && port <= p.endPort : p.port === port)));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function ruleAllows(rule: any, peersField: 'from' | 'to', policyNamespace: string, other: Endpoint, port: number): boolean {
  const peers = rule[peersField];
  const peerOk = !peers || peers.length === 0 || peers.some((p: unknown) => peerMatches(p, policyNamespace, other));
  return peerOk && portMatches(rule.ports, port);
}

function policyTypes(policy: K8sObject): string[] {
  if (policy.spec.policyTypes) return policy.spec.policyTypes;
  return policy.spec.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

function directionAllows(policies: K8sObject[], self: PodEndpoint, other: Endpoint, port: number, direction: 'Ingress' | 'Egress'): boolean {
  const selecting = policies.filter(
    (p) =>
      p.kind === 'NetworkPolicy' &&
      p.metadata.namespace === self.namespace &&
      policyTypes(p).includes(direction) &&
      selectorMatches({ matchLabels: {}, ...p.spec.podSelector }, self.labels),
  );
  if (selecting.length === 0) return true;
  const field = direction === 'Ingress' ? 'ingress' : 'egress';
  const peers = direction === 'Ingress' ? 'from' : 'to';
  return selecting.some((p) => (p.spec[field] ?? []).some((rule: unknown) => ruleAllows(rule, peers, self.namespace, other, port)));
}

export function connectionAllowed(policies: K8sObject[], from: Endpoint, to: Endpoint, port: number): boolean {
  const egressOk = from.kind === 'external' || directionAllows(policies, from, to, port, 'Egress');
  const ingressOk = to.kind === 'external' || directionAllows(policies, to, from, port, 'Ingress');
  return egressOk && ingressOk;
}
