import { CreateRegistry1732500000000 } from './1732500000000-create-registry';

export const migrations = [CreateRegistry1732500000000];
