import { CreateDeployments1730000000000 } from './1730000000000-create-deployments';
import { DropSecretValues1765000000000 } from './1765000000000-drop-secret-values';
import { CreateInvocations1767000000000 } from './1767000000000-create-invocations';
import { TriggerSources1768000000000 } from './1768000000000-trigger-sources';
import { DeploymentVersions1769000000000 } from './1769000000000-deployment-versions';

export const migrations = [
  CreateDeployments1730000000000,
  DropSecretValues1765000000000,
  CreateInvocations1767000000000,
  TriggerSources1768000000000,
  DeploymentVersions1769000000000,
];
