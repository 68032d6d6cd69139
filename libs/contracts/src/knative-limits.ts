// A light entry point (@platform/contracts/knative-limits): the CLI loads this without the rest of the contracts.
export * from './functions/knative-limits';
