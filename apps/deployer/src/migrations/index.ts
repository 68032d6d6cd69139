import { CreateDeployments1730000000000 } from './1730000000000-create-deployments';
import { DropSecretValues1765000000000 } from './1765000000000-drop-secret-values';

export const migrations = [CreateDeployments1730000000000, DropSecretValues1765000000000];
