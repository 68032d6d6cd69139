import { CreateRegistry1732500000000 } from './1732500000000-create-registry';
import { CreateApiKeys1764600000000 } from './1764600000000-create-api-keys';
import { RuntimeFamilyUnchecked1764800000000 } from './1764800000000-runtime-family-unchecked';
import { VersionBuilds1769000000000 } from './1769000000000-version-builds';
import { RecordedRuntimeVersion1770000000000 } from './1770000000000-recorded-runtime-version';

export const migrations = [
  CreateRegistry1732500000000,
  CreateApiKeys1764600000000,
  RuntimeFamilyUnchecked1764800000000,
  VersionBuilds1769000000000,
  RecordedRuntimeVersion1770000000000,
];
