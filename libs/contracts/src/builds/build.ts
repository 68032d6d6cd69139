import { EffectiveConfig } from '../functions/function-config.dto';
import { RuntimeFamily, TemplateName } from '../functions/runtime';

/** BullMQ queue the registry adds build jobs to and the builder works. */
export function buildQueueName(): string {
  return 'builds';
}

/** BullMQ key prefix; the namespace keeps installations and test runs apart on one Redis. */
export function bullPrefix(namespace: string): string {
  return `${namespace}:bull`;
}

/** Everything a build needs, so the builder never has to ask the registry. */
export interface BuildJobData {
  buildId: string;
  functionId: string;
  label: string;
  version: number;
  template: TemplateName;
  runtime: string;
  family: RuntimeFamily;
  /** Relative path -> UTF-8 text, or "base64:..." for binary files. */
  files: Record<string, string>;
  entrypoint: string;
  config: EffectiveConfig;
  requestedAt: string;
}

export type BuildStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface BuildView {
  id: string;
  functionId: string;
  version: number;
  status: BuildStatus;
  bundleDigest: string | null;
  bundleSize: number | null;
  image: string | null;
  imageDigest: string | null;
  /** Digest of the build's inputs; equal inputs are not rebuilt. */
  inputDigest: string | null;
  cached: boolean;
  error: string | null;
  log: string;
  startedAt: string | null;
  finishedAt: string | null;
  createdAt: string;
}

/** Payload of build.succeeded / build.failed events. */
export interface BuildResultPayload {
  buildId: string;
  functionId: string;
  version: number;
  bundleDigest?: string;
  image?: string | null;
  cached?: boolean;
  error?: string;
  log?: string;
}
