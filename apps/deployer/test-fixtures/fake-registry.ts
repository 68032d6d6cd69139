import { Controller, Inject, Injectable } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { FunctionConfigDto, FunctionPatterns, FunctionRuntimeSpec, NotFoundError, SetDeploymentStatusCommand, StateError } from '@platform/contracts';
import { runtimeSpec } from './runtime-spec';

/** What the stand-in registry knows: functions (with or without a build), secrets, and the statuses it was sent. */
@Injectable()
export class FakeRegistryState {
  readonly functions = new Map<string, { label: string; spec: FunctionRuntimeSpec | null; older?: FunctionRuntimeSpec[] }>();
  /** The secrets each function's env gets, by function id (its current version's, and any version's not in versionSecrets). */
  readonly secrets = new Map<string, Record<string, string>>();
  /** The secrets one version's own config names, by `${functionId}@${version}`: an older version's may differ. */
  readonly versionSecrets = new Map<string, Record<string, string>>();
  /** Stored secrets by name (an event source's credentialsSecret). */
  readonly namedSecrets = new Map<string, Record<string, string>>();
  readonly statuses: SetDeploymentStatusCommand[] = [];

  /** A built function; returns its runtime spec. */
  addFunction(label: string, config: FunctionConfigDto = {}, overrides: Partial<FunctionRuntimeSpec> = {}): FunctionRuntimeSpec {
    const spec = runtimeSpec({ label, ...overrides }, config);
    this.functions.set(spec.functionId, { label, spec });
    return spec;
  }

  /** A new built version of a function (the current one); the earlier ones stay deployable by number. */
  addVersion(functionId: string, overrides: Partial<FunctionRuntimeSpec> = {}): FunctionRuntimeSpec {
    const fn = this.functions.get(functionId)!;
    const before = fn.spec!;
    const spec = {
      ...before,
      version: before.version + 1,
      bundleDigest: `sha256:${String(before.version + 1)
        .padStart(2, '0')
        .repeat(32)}`,
      ...overrides,
    };
    fn.older = [...(fn.older ?? []), before];
    fn.spec = spec;
    return spec;
  }

  /** A function created but never built. */
  addUnbuilt(label: string): string {
    const id = runtimeSpec().functionId;
    this.functions.set(id, { label, spec: null });
    return id;
  }

  find(idOrLabel: string) {
    const byId = this.functions.get(idOrLabel);
    if (byId) return byId;
    return [...this.functions.values()].find((f) => f.label === idOrLabel);
  }

  statusesOf(functionId: string): string[] {
    return this.statuses.filter((s) => s.functionId === functionId).map((s) => s.status);
  }

  lastStatus(functionId: string): SetDeploymentStatusCommand | undefined {
    return this.statuses.filter((s) => s.functionId === functionId).at(-1);
  }
}

/** Answers the registry RPCs the deployer uses, on the real 'function-registry' queue. */
@Controller()
export class FakeRegistryController {
  constructor(@Inject(FakeRegistryState) private readonly state: FakeRegistryState) {}

  @MessagePattern(FunctionPatterns.GetRuntimeSpec)
  runtimeSpec(@Payload() p: { id: string; version?: number }): FunctionRuntimeSpec {
    const fn = this.state.find(p.id);
    if (!fn) throw new NotFoundError(`function ${p.id} does not exist`);
    if (!fn.spec) throw new StateError(`function ${fn.label} has no successful build; build it first`);
    if (p.version === undefined || p.version === fn.spec.version) return fn.spec;
    const older = fn.older?.find((s) => s.version === p.version);
    if (!older) throw new NotFoundError(`function ${fn.label} has no version ${p.version}`);
    return older;
  }

  @MessagePattern(FunctionPatterns.SetDeploymentStatus)
  setStatus(@Payload() p: SetDeploymentStatusCommand): { ok: true } {
    if (!this.state.find(p.functionId)) throw new NotFoundError(`function ${p.functionId} does not exist`);
    this.state.statuses.push(p);
    return { ok: true };
  }

  @MessagePattern(FunctionPatterns.ResolveSecret)
  resolveSecret(@Payload() p: { name: string }): Record<string, string> {
    const secret = this.state.namedSecrets.get(p.name);
    if (!secret) throw new NotFoundError(`secret ${p.name} does not exist`);
    return secret;
  }

  @MessagePattern(FunctionPatterns.ResolveSecrets)
  resolveSecrets(@Payload() p: { functionId: string; version?: number }): Record<string, string> {
    const current = this.state.functions.get(p.functionId)?.spec?.version;
    const version = p.version ?? current;
    if (version !== current) return this.state.versionSecrets.get(`${p.functionId}@${version}`) ?? this.state.secrets.get(p.functionId) ?? {};
    return this.state.secrets.get(p.functionId) ?? {};
  }
}
