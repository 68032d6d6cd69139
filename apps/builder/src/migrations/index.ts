import { CreateBuilds1764000000000 } from './1764000000000-create-builds';

export const builderMigrations = [CreateBuilds1764000000000];
