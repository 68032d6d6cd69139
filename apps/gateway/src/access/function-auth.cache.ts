import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import {
  DeploymentPatterns,
  eventBinding,
  EventNames,
  FunctionDeploymentQuery,
  FunctionPatterns,
  FunctionVersionView,
  FunctionView,
  NO_ROUTING,
  resolveQualifier,
  Trigger,
  TrafficView,
} from '@platform/contracts';
import { EventSubscriber, RpcClient } from '@platform/messaging';
import { EveryVersionRoutes, HttpRoutes, RouteTable } from '../proxy/http-routes';

/** What the gateway needs to know about a function to authorise an invocation. */
export type FunctionAccess =
  | {
      known: true;
      id: string;
      label: string;
      /**
       * What /fn/{label}{path} serves, by method and path, and which of it needs no key: the http triggers of the
       * version(s) an invocation without a qualifier runs, compiled.
       */
      routes: RouteTable;
    }
  | { known: false };

const TTL_MS = 10_000;
/**
 * How long an invocation without a qualifier waits for the deployer to say which versions run (only for a function
 * whose versions' triggers differ); past it, every version counts, which never opens more than each version does.
 */
const TRAFFIC_WAIT_MS = 2_000;
/** A qualifier names no running version (or the function is not deployed): every path needs a key, and the invoker then answers 404 or 409. */
const KEYED_ONLY = (label: string, id: string) => HttpRoutes.of(label, id, []);

/**
 * A function's id, label and http triggers (compiled once here, so /fn/ matches a request without building
 * anything). Asked of the registry once per id or label and cached; function.created/
 * updated/deleted events drop the cache at once.
 */
@Injectable()
export class FunctionAuthCache implements OnApplicationBootstrap {
  private readonly entries = new Map<string, { access: FunctionAccess; until: number }>();
  private readonly pending = new Map<string, Promise<FunctionAccess>>();
  /** The http triggers of the version a qualifier names, by `${functionId}:${qualifier}`. */
  private readonly qualified = new Map<string, { routes: HttpRoutes; until: number }>();
  private readonly qualifiedPending = new Map<string, Promise<HttpRoutes>>();

  constructor(
    private readonly rpc: RpcClient,
    private readonly subscriber: EventSubscriber,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.subscribe({
      queue: 'gateway.function-auth',
      broadcast: true,
      // Deployments too: a deploy, an alias or a rollback changes which version a qualifier names.
      bindings: [...[EventNames.FunctionCreated, EventNames.FunctionUpdated, EventNames.FunctionDeleted].map((name) => eventBinding(name)), 'deployment.*.*'],
      // Rare events, and a rename does not name the old label: start over.
      handler: () => {
        this.entries.clear();
        this.qualified.clear();
      },
    });
  }

  /**
   * What /fn/{label}:{qualifier} serves without a key: the http triggers of the version the qualifier names (the
   * one the invoker will run), not the function's current config. A qualifier that names no running version, or a
   * function not deployed, gets routes that all need a key (the invoker then answers 404 or 409). Rejects (503)
   * when the deployer or the registry cannot be asked: fails closed, as accessOf does.
   */
  async routesOf(access: Extract<FunctionAccess, { known: true }>, qualifier: string): Promise<HttpRoutes> {
    const key = `${access.id}:${qualifier}`;
    const hit = this.qualified.get(key);
    if (hit && hit.until > Date.now()) return hit.routes;
    let p = this.qualifiedPending.get(key);
    if (!p) {
      p = this.lookupQualified(access, qualifier, key).finally(() => this.qualifiedPending.delete(key));
      this.qualifiedPending.set(key, p);
    }
    return p;
  }

  private async lookupQualified(access: Extract<FunctionAccess, { known: true }>, qualifier: string, key: string): Promise<HttpRoutes> {
    let routes: HttpRoutes;
    let traffic: TrafficView | undefined;
    try {
      traffic = await this.rpc.call<TrafficView>('deployer', DeploymentPatterns.GetTraffic, { functionId: access.id } satisfies FunctionDeploymentQuery);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    // The same resolution the invoker applies (a malformed qualifier was refused before this).
    const version = traffic
      ? resolveQualifier({ ...NO_ROUTING, aliases: traffic.aliases }, traffic.version, qualifier, (v) => traffic.versions.includes(v))
      : undefined;
    if (typeof version !== 'number') routes = KEYED_ONLY(access.label, access.id);
    else {
      const versions = await this.rpc.call<FunctionVersionView[]>('function-registry', FunctionPatterns.ListVersions, { id: access.id });
      const served = versions.find((v) => v.version === version);
      routes = served ? HttpRoutes.of(access.label, access.id, served.config?.triggers as Trigger[] | undefined) : KEYED_ONLY(access.label, access.id);
    }
    this.qualified.set(key, { routes, until: Date.now() + TTL_MS });
    if (this.qualified.size > 10_000) this.qualified.delete(this.qualified.keys().next().value as string);
    return routes;
  }

  /**
   * The routes of what an invocation without a qualifier runs. When every version has the same triggers (the common
   * case) that is the function's config, and nothing more is asked. Otherwise the deployer says which versions run
   * (after a rollback, an older one; under a split, several: see EveryVersionRoutes); not deployed, the config
   * decides (the invoker answers 409). If the deployer cannot be asked (within TRAFFIC_WAIT_MS), every version
   * counts: nothing opens that some version keeps closed.
   */
  private async servedRoutes(f: FunctionView): Promise<RouteTable> {
    const current = HttpRoutes.of(f.label, f.id, f.config?.triggers);
    const versions = await this.rpc.call<FunctionVersionView[]>('function-registry', FunctionPatterns.ListVersions, { id: f.id });
    const same = JSON.stringify(f.config?.triggers ?? []);
    if (versions.every((v) => JSON.stringify(v.config?.triggers ?? []) === same)) return current;
    const routesOf = (n: number) => {
      const v = versions.find((x) => x.version === n);
      return v ? HttpRoutes.of(f.label, f.id, v.config?.triggers as Trigger[] | undefined) : KEYED_ONLY(f.label, f.id);
    };
    let traffic: TrafficView;
    try {
      const query: FunctionDeploymentQuery = { functionId: f.id };
      traffic = await this.rpc.call<TrafficView>('deployer', DeploymentPatterns.GetTraffic, query, TRAFFIC_WAIT_MS);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return current;
      return new EveryVersionRoutes([current, ...versions.map((v) => routesOf(v.version))]);
    }
    const running = traffic.splits.filter((s) => s.percent > 0).map((s) => s.version);
    const served = running.length ? running : [traffic.version];
    return served.length === 1 ? routesOf(served[0]) : new EveryVersionRoutes(served.map(routesOf));
  }

  /** Rejects (503) when the registry cannot be asked and nothing is cached: protected functions fail closed. */
  async accessOf(ref: string): Promise<FunctionAccess> {
    const hit = this.entries.get(ref);
    if (hit && hit.until > Date.now()) return hit.access;
    let p = this.pending.get(ref);
    if (!p) {
      p = this.lookup(ref).finally(() => this.pending.delete(ref));
      this.pending.set(ref, p);
    }
    return p;
  }

  private async lookup(ref: string): Promise<FunctionAccess> {
    let access: FunctionAccess;
    try {
      const f = await this.rpc.call<FunctionView>('function-registry', FunctionPatterns.Resolve, { id: ref });
      access = { known: true, id: f.id, label: f.label, routes: await this.servedRoutes(f) };
    } catch (err) {
      // 404: no such function; 400: not a name any function can have. Either way it needs a key, and the invoker answers.
      const status = (err as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 400) throw err;
      access = { known: false };
    }
    this.entries.set(ref, { access, until: Date.now() + TTL_MS });
    if (this.entries.size > 10_000) this.entries.delete(this.entries.keys().next().value as string);
    return access;
  }
}
