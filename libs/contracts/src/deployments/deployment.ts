import { FunctionRuntimeSpec } from '../functions/function.dto';

export type DeploymentDriverName = 'local' | 'knative';
export type DeploymentStatus = 'DEPLOYING' | 'READY' | 'FAILED' | 'DELETED';

export interface DeployCommand {
  functionId: string;
}

export interface DeploymentView {
  id: string;
  functionId: string;
  version: number;
  driver: DeploymentDriverName;
  status: DeploymentStatus;
  bundleDigest: string;
  image: string | null;
  /** Where invocations go: the invoker for local, the Knative Service URL otherwise. */
  url: string | null;
  reason: string | null;
  spec: FunctionRuntimeSpec;
  createdAt: string;
  updatedAt: string;
}
