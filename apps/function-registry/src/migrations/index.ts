import { CreateRegistry1732500000000 } from './1732500000000-create-registry';
import { CreateApiKeys1764600000000 } from './1764600000000-create-api-keys';

export const migrations = [CreateRegistry1732500000000, CreateApiKeys1764600000000];
