/**
 * A small evaluator of NetworkPolicy semantics (as the API defines them), enough to ask "may this
 * pod open a TCP connection to that one on this port?" of the manifests: a connection is allowed
 * when the source's egress and the destination's ingress both allow it; a pod no policy of a
 * direction selects is open in that direction. An ipBlock matches external addresses and, when the
 * pod is given one, a pod's own address (Calico and Cilium match pod IPs against ipBlocks too, so
 * the specs give pods addresses of the cluster's private range to check that no ipBlock lets them in).
 */
import type { V1NetworkPolicyPeer, V1NetworkPolicyPort } from '@kubernetes/client-node';
import { NetworkPolicyYaml, selectorMatches } from './manifests';

export interface PodEndpoint {
  kind: 'pod';
  namespace: string;
  labels: Record<string, string>;
  ip?: string;
}
export interface ExternalEndpoint {
  kind: 'external';
  ip: string;
}
export type Endpoint = PodEndpoint | ExternalEndpoint;

export const pod = (namespace: string, labels: Record<string, string>, ip?: string): PodEndpoint => ({ kind: 'pod', namespace, labels, ip });
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

function peerMatches(peer: V1NetworkPolicyPeer, policyNamespace: string, other: Endpoint): boolean {
  const { ipBlock } = peer;
  if (ipBlock) {
    const ip = other.ip;
    if (!ip) return false;
    return ipInCidr(ip, ipBlock.cidr) && !(ipBlock.except ?? []).some((c) => ipInCidr(ip, c));
  }
  if (other.kind !== 'pod') return false;
  const namespaceOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, namespaceLabels(other.namespace)) : other.namespace === policyNamespace;
  const podOk = peer.podSelector ? selectorMatches(peer.podSelector, other.labels) : true;
  return namespaceOk && podOk;
}

export type Protocol = 'TCP' | 'UDP';

function portMatches(ports: V1NetworkPolicyPort[] | undefined, port: number, protocol: Protocol): boolean {
  if (!ports || ports.length === 0) return true;
  // A port range (endPort) is numeric; a single port may be a number or a container port's name.
  return ports.some(
    (p) => (p.protocol ?? 'TCP') === protocol && (p.port === undefined || (p.endPort ? port >= Number(p.port) && port <= p.endPort : p.port === port)),
  );
}

function ruleAllows(
  peers: V1NetworkPolicyPeer[] | undefined,
  ports: V1NetworkPolicyPort[] | undefined,
  policyNamespace: string,
  other: Endpoint,
  port: number,
  protocol: Protocol,
): boolean {
  const peerOk = !peers || peers.length === 0 || peers.some((p) => peerMatches(p, policyNamespace, other));
  return peerOk && portMatches(ports, port, protocol);
}

function policyTypes(policy: NetworkPolicyYaml): string[] {
  if (policy.spec?.policyTypes) return policy.spec.policyTypes;
  return policy.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress'];
}

function directionAllows(
  policies: NetworkPolicyYaml[],
  self: PodEndpoint,
  other: Endpoint,
  port: number,
  protocol: Protocol,
  direction: 'Ingress' | 'Egress',
): boolean {
  const selecting = policies.filter(
    (p) =>
      p.kind === 'NetworkPolicy' &&
      p.metadata?.namespace === self.namespace &&
      policyTypes(p).includes(direction) &&
      selectorMatches({ matchLabels: {}, ...p.spec?.podSelector }, self.labels),
  );
  if (selecting.length === 0) return true;
  const rules = (p: NetworkPolicyYaml) =>
    direction === 'Ingress'
      ? (p.spec?.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports }))
      : (p.spec?.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports }));
  return selecting.some((p) => rules(p).some((r) => ruleAllows(r.peers, r.ports, self.namespace, other, port, protocol)));
}

/** May `from` open a connection (TCP) or send a datagram (UDP) to `to` on this port? */
export function connectionAllowed(policies: NetworkPolicyYaml[], from: Endpoint, to: Endpoint, port: number, protocol: Protocol = 'TCP'): boolean {
  const egressOk = from.kind === 'external' || directionAllows(policies, from, to, port, protocol, 'Egress');
  const ingressOk = to.kind === 'external' || directionAllows(policies, to, from, port, protocol, 'Ingress');
  return egressOk && ingressOk;
}
