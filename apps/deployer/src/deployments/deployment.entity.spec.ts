import { FunctionConfigDto } from '@platform/contracts';
import { runtimeSpec } from '../../test-fixtures/runtime-spec';
import { Deployment, toView } from './deployment.entity';

function deployment(label: string, config: FunctionConfigDto, status: Deployment['status'] = 'READY'): Deployment {
  const spec = runtimeSpec({ label }, config);
  return Object.assign(new Deployment(), {
    id: spec.functionId,
    functionId: spec.functionId,
    label,
    version: 1,
    driver: 'local',
    status,
    bundleDigest: spec.bundleDigest,
    image: null,
    url: 'http://127.0.0.1:9000/internal',
    reason: null,
    spec,
    env: null,
    createdAt: new Date(),
    updatedAt: new Date(),
  });
}

describe('the deployment a user sees: its URL on the gateway', () => {
  it('is /fn/{label} for a function with no triggers, and with its http trigger path when that names one', () => {
    expect(toView(deployment('hello', {})).url).toBe('/fn/hello');
    expect(
      toView(
        deployment('shop', {
          triggers: [
            { type: 'http', path: '/api/hello' },
            { type: 'event', eventType: 'ORDER_PLACED' },
          ],
        }),
      ).url,
    ).toBe('/fn/shop/api/hello');
  });

  it('is null for a function with triggers but no http trigger: the gateway does not serve it on /fn/', () => {
    const view = toView(deployment('nightly', { triggers: [{ type: 'schedule', cron: '0 3 * * *' }] }));
    expect(view.url).toBeNull();
    expect(view.status).toBe('READY');
  });

  it('is null once the deployment failed or was deleted', () => {
    expect(toView(deployment('hello', {}, 'FAILED')).url).toBeNull();
    expect(toView(deployment('hello', {}, 'DELETED')).url).toBeNull();
  });
});
