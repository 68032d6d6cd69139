import { CreateDeployments1730000000000 } from './1730000000000-create-deployments';

export const migrations = [CreateDeployments1730000000000];
