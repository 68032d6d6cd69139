import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig, V1Secret, Watch } from '@kubernetes/client-node';
import { KNATIVE_GROUP, KNATIVE_PLURAL, KNATIVE_VERSION, KnativeService } from './knative-service';

/** A Kubernetes API error with the fields of its Status object (reason: NotFound, Conflict, AlreadyExists ...). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** KUBECONFIG when set; otherwise the pod's service account in a cluster, else the usual ~/.kube/config. */
export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: set KUBECONFIG or run the deployer inside the cluster');
  }
  return kc;
}

export type WatchEvent = { type: string; object: KnativeService };

/** Knative Services in one namespace, through @kubernetes/client-node. */
export class KnativeServicesApi {
  private readonly api: CustomObjectsApi;
  readonly server: string;

  constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.server = kc.getCurrentCluster()?.server ?? '(no server)';
  }

  private get base() {
    return { group: KNATIVE_GROUP, version: KNATIVE_VERSION, namespace: this.namespace, plural: KNATIVE_PLURAL };
  }

  /** The Service, or null when there is none. */
  async get(name: string): Promise<KnativeService | null> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...this.base, name })) as KnativeService;
    } catch (err) {
      const e = this.toError(err);
      if (e.code === 404) return null;
      throw e;
    }
  }

  async create(body: KnativeService): Promise<KnativeService> {
    try {
      return (await this.api.createNamespacedCustomObject({ ...this.base, body })) as KnativeService;
    } catch (err) {
      throw this.toError(err);
    }
  }

  /** Replaces the Service; `body.metadata.resourceVersion` must be the current one (409 Conflict otherwise). */
  async replace(body: KnativeService): Promise<KnativeService> {
    try {
      return (await this.api.replaceNamespacedCustomObject({ ...this.base, name: body.metadata.name, body })) as KnativeService;
    } catch (err) {
      throw this.toError(err);
    }
  }

  /** Deletes the Service; false when it was already gone. */
  async delete(name: string): Promise<boolean> {
    try {
      await this.api.deleteNamespacedCustomObject({ ...this.base, name, propagationPolicy: 'Foreground' });
      return true;
    } catch (err) {
      const e = this.toError(err);
      if (e.code === 404) return false;
      throw e;
    }
  }

  /**
   * Streams changes of one Service (first its current state, as the API sends ADDED for what exists). Resolves when
   * the server ends the stream; `stop()` ends it early.
   */
  async watch(name: string, onEvent: (e: WatchEvent) => void, timeoutSeconds: number): Promise<{ stop: () => void; ended: Promise<void> }> {
    const path = `/apis/${KNATIVE_GROUP}/${KNATIVE_VERSION}/namespaces/${encodeURIComponent(this.namespace)}/${KNATIVE_PLURAL}`;
    let finish!: (err?: KubeApiError) => void;
    const ended = new Promise<void>((resolve, reject) => {
      finish = (err) => (err ? reject(err) : resolve());
    });
    const controller = await new Watch(this.kc).watch(
      path,
      { fieldSelector: `metadata.name=${name}`, timeoutSeconds },
      (type, object) => onEvent({ type, object: object as KnativeService }),
      (err) => {
        const aborted = err && (err as Error).name === 'AbortError';
        finish(err && !aborted ? this.toError(err) : undefined);
      },
    );
    return { stop: () => controller.abort(), ended };
  }

  /** ApiException (body = the Status JSON text), fetch errors ... -> KubeApiError with a message a person can act on. */
  toError(err: unknown): KubeApiError {
    return toKubeError(err, this.server);
  }
}

/** Kubernetes Secrets in one namespace (the functions' secret values and the registry pull secret). */
export class KubeSecretsApi {
  private readonly api: CoreV1Api;
  readonly server: string;

  constructor(
    kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.server = kc.getCurrentCluster()?.server ?? '(no server)';
  }

  /** The Secret, or null when there is none. */
  async get(name: string): Promise<V1Secret | null> {
    try {
      return await this.api.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (err) {
      const e = toKubeError(err, this.server);
      if (e.code === 404) return null;
      throw e;
    }
  }

  async create(body: V1Secret): Promise<V1Secret> {
    return this.api.createNamespacedSecret({ namespace: this.namespace, body }).catch((err: unknown) => Promise.reject(toKubeError(err, this.server)));
  }

  /** Replaces the Secret; `body.metadata.resourceVersion` must be the current one (409 Conflict otherwise). */
  async replace(body: V1Secret): Promise<V1Secret> {
    return this.api
      .replaceNamespacedSecret({ name: body.metadata!.name!, namespace: this.namespace, body })
      .catch((err: unknown) => Promise.reject(toKubeError(err, this.server)));
  }

  /** Deletes the Secret; false when it was already gone. */
  async delete(name: string): Promise<boolean> {
    try {
      await this.api.deleteNamespacedSecret({ name, namespace: this.namespace });
      return true;
    } catch (err) {
      const e = toKubeError(err, this.server);
      if (e.code === 404) return false;
      throw e;
    }
  }

  /** The Secrets whose labels match `labelSelector` (`a=b,c=d`). */
  async list(labelSelector: string): Promise<V1Secret[]> {
    try {
      return (await this.api.listNamespacedSecret({ namespace: this.namespace, labelSelector })).items;
    } catch (err) {
      throw toKubeError(err, this.server);
    }
  }
}

/** ApiException (body = the Status JSON text), fetch errors ... -> KubeApiError with a message a person can act on. */
function toKubeError(err: unknown, server: string): KubeApiError {
  if (err instanceof KubeApiError) return err;
  if (err instanceof ApiException) {
    const status = parseStatus(err.body);
    const reason = status?.reason ?? String(err.code);
    return new KubeApiError(err.code, reason, `Kubernetes API answered ${err.code} ${reason}: ${status?.message ?? err.message}`);
  }
  const code = (err as { statusCode?: number }).statusCode;
  if (typeof code === 'number') return new KubeApiError(code, String(code), `Kubernetes API answered ${code}: ${(err as Error).message}`);
  return new KubeApiError(0, 'Unreachable', `Kubernetes API at ${server} is unreachable: ${(err as Error)?.message ?? String(err)}`);
}

function parseStatus(body: unknown): { reason?: string; message?: string } | null {
  if (body && typeof body === 'object') return body as { reason?: string; message?: string };
  if (typeof body !== 'string') return null;
  try {
    return JSON.parse(body) as { reason?: string; message?: string };
  } catch {
    return { message: body.slice(0, 300) };
  }
}
