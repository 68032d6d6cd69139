export enum FunctionStatus {
  Created = 'CREATED',
  Building = 'BUILDING',
  Built = 'BUILT',
  Deploying = 'DEPLOYING',
  Ready = 'READY',
  Failed = 'FAILED',
}
