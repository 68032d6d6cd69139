import { devInfraObjects, FUNCTIONS_NAMESPACE, mustFind, PLATFORM_NAMESPACE, platformObjects } from './support/manifests';

const platform = platformObjects();
const everything = [...platform, ...devInfraObjects()];

describe('RBAC', () => {
  const rbac = everything.filter(({ object }) => object.apiVersion.startsWith('rbac.authorization.k8s.io/'));
  const role = mustFind(platform, 'Role', 'hks-deployer-knative', FUNCTIONS_NAMESPACE);
  const binding = mustFind(platform, 'RoleBinding', 'hks-deployer-knative', FUNCTIONS_NAMESPACE);

  it('has no cluster-wide role or binding', () => {
    expect(rbac.map(({ object }) => object.kind)).not.toContain('ClusterRole');
    expect(rbac.map(({ object }) => object.kind)).not.toContain('ClusterRoleBinding');
  });

  it('grants one Role, in the functions namespace, bound to the deployer ServiceAccount only', () => {
    expect(rbac.map(({ object }) => `${object.kind} ${object.metadata.namespace}/${object.metadata.name}`).sort()).toEqual([
      'Role functions/hks-deployer-knative',
      'RoleBinding functions/hks-deployer-knative',
    ]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'deployer', namespace: PLATFORM_NAMESPACE }]);
    expect(mustFind(platform, 'ServiceAccount', 'deployer', PLATFORM_NAMESPACE)).toBeDefined();
  });

  it('lets the deployer manage serving.knative.dev services and Secrets in functions, and nothing else', () => {
    expect(role.rules).toEqual([
      {
        apiGroups: ['serving.knative.dev'],
        resources: ['services'],
        verbs: expect.arrayContaining(['get', 'list', 'watch', 'create', 'update', 'patch', 'delete']),
      },
      // The functions' secret values and the registry pull secret: what the knative driver calls, no more.
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update', 'delete'] },
    ]);
    const verbs: string[] = role.rules[0].verbs;
    expect(verbs).toHaveLength(7);
    for (const rule of role.rules) {
      expect(rule.resourceNames).toBeUndefined();
      expect(rule.nonResourceURLs).toBeUndefined();
      expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain('*');
    }
  });

  it('grants Secrets only in the functions namespace, never in hks-system', () => {
    const secretRules = rbac
      .filter(({ object }) => object.kind === 'Role')
      .flatMap(({ object }) =>
        ((object as unknown as { rules: Array<{ resources: string[] }> }).rules ?? []).map((r) => ({ ns: object.metadata.namespace, r })),
      )
      .filter(({ r }) => r.resources.includes('secrets'));
    expect(secretRules.map(({ ns }) => ns)).toEqual([FUNCTIONS_NAMESPACE]);
  });
});
