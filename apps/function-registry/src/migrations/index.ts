import { CreateRegistry1732500000000 } from './1732500000000-create-registry';
import { CreateApiKeys1764600000000 } from './1764600000000-create-api-keys';
import { RuntimeFamilyUnchecked1764800000000 } from './1764800000000-runtime-family-unchecked';

export const migrations = [CreateRegistry1732500000000, CreateApiKeys1764600000000, RuntimeFamilyUnchecked1764800000000];
