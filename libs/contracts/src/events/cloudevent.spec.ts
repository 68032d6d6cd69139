import { CloudEvent } from 'cloudevents';
import { EventNames, newEvent, PlatformEvent } from './event';
import { fromCloudEvent, InvalidCloudEventError, routingKeyOf, toCloudEvent } from './cloudevent';

/** The platform's category of each of its own events, as the services publish them. */
const CATEGORY: Record<string, string> = {
  [EventNames.FunctionCreated]: 'FUNCTION_CREATED',
  [EventNames.FunctionUpdated]: 'FUNCTION_UPDATED',
  [EventNames.FunctionDeleted]: 'FUNCTION_DELETED',
  [EventNames.BuildQueued]: 'FUNCTION_BUILD',
  [EventNames.BuildStarted]: 'FUNCTION_BUILD',
  [EventNames.BuildSucceeded]: 'FUNCTION_BUILD',
  [EventNames.BuildFailed]: 'FUNCTION_BUILD',
  [EventNames.DeploymentStarted]: 'FUNCTION_DEPLOYMENT',
  [EventNames.DeploymentReady]: 'FUNCTION_DEPLOYMENT',
  [EventNames.DeploymentFailed]: 'FUNCTION_DEPLOYMENT',
  [EventNames.DeploymentDeleted]: 'FUNCTION_DEPLOYMENT',
  [EventNames.InvocationPending]: 'FUNCTION_INVOCATION',
  [EventNames.InvocationSucceeded]: 'FUNCTION_INVOCATION',
  [EventNames.InvocationFailed]: 'FUNCTION_INVOCATION',
  [EventNames.EventCreated]: 'com.shop.order.placed',
  [EventNames.ApiKeyRevoked]: 'API_KEY',
};

const FUNCTION_ID = '6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b';
const INVOCATION_ID = '0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e';

function sample(name: string): PlatformEvent {
  const concernsFunction = name !== EventNames.ApiKeyRevoked;
  return newEvent({
    name,
    type: CATEGORY[name],
    status: name.endsWith('failed') ? 'FAILURE' : name.endsWith('pending') || name.endsWith('queued') ? 'PENDING' : 'SUCCESS',
    source: name === EventNames.EventCreated ? 'https://shop.example/orders' : name.split('.')[0] === 'invocation' ? 'invoker' : 'function-registry',
    timestamp: '2026-03-01T12:34:56.789Z',
    functionId: concernsFunction ? FUNCTION_ID : null,
    invocationId: name.startsWith('invocation.') ? INVOCATION_ID : null,
    payload: { nested: { list: [1, 'two', null, true] }, text: 'ünïcødé "quoted"' },
    response: name.startsWith('invocation.') ? { statusCode: 200, body: 'ok' } : null,
    processingTimeMs: name.startsWith('invocation.') ? 1.234 : null,
    error: name.endsWith('failed') ? 'Error: boom\n  at handler' : null,
    metadata: { coldStart: true, logs: 'line 1\n' },
    ...(concernsFunction ? { functionLabel: 'my-fn' } : {}),
  });
}

describe('events on the bus as CloudEvents 1.0', () => {
  describe.each(Object.values(EventNames))('%s', (name) => {
    const event = sample(name);
    const ce = toCloudEvent(event);

    it('is a valid CloudEvent (the cloudevents SDK validates it)', () => {
      expect(() => new CloudEvent({ ...ce })).not.toThrow();
      expect(new CloudEvent({ ...ce }).validate()).toBe(true);
    });

    it('round-trips to the same PlatformEvent, also through JSON', () => {
      expect(fromCloudEvent(ce)).toEqual(event);
      expect(fromCloudEvent(JSON.parse(JSON.stringify(ce)))).toEqual(event);
    });

    it('keeps the CloudEvents attributes the issue names', () => {
      expect(ce).toMatchObject({ specversion: '1.0', id: event.id, time: event.timestamp, datacontenttype: 'application/json', status: event.status });
      expect(Object.keys(ce).every((k) => /^[a-z0-9]{1,20}$/.test(k))).toBe(true);
      if (event.functionId) expect(ce).toMatchObject({ subject: 'my-fn', functionid: FUNCTION_ID });
      else expect(ce.subject).toBeUndefined();
    });
  });

  it('names the platform events in reverse-DNS style and keeps custom types verbatim', () => {
    expect(toCloudEvent(sample(EventNames.InvocationSucceeded))).toMatchObject({
      type: 'dev.hks.invocation.succeeded',
      source: '/hks/invoker',
      invocationid: INVOCATION_ID,
    });
    expect(toCloudEvent(sample(EventNames.InvocationSucceeded)).data).toMatchObject({ type: 'FUNCTION_INVOCATION', processingTimeMs: 1.234 });
    const custom = toCloudEvent(sample(EventNames.EventCreated));
    expect(custom).toMatchObject({ type: 'com.shop.order.placed', source: 'https://shop.example/orders' });
    expect(custom.data).not.toHaveProperty('type');
  });

  it('escapes a source that is not a URI reference and keeps the original in data', () => {
    for (const source of ['my shop', 'a%20b', '1:2', '', 'naïve', 'x\uD800y']) {
      const event = { ...sample(EventNames.EventCreated), source };
      const ce = toCloudEvent(event);
      expect(new CloudEvent({ ...ce }).validate()).toBe(true);
      expect(ce.data.source).toBe(source);
      expect(fromCloudEvent(ce)).toEqual(event);
    }
    expect(toCloudEvent({ ...sample(EventNames.EventCreated), source: 'shop' })).toMatchObject({
      source: 'shop',
      data: expect.not.objectContaining({ source: 'shop' }),
    });
  });

  it('routes by event name and function label, custom events under event.<type>', () => {
    expect(routingKeyOf(sample(EventNames.InvocationFailed))).toBe('invocation.failed.my-fn');
    expect(routingKeyOf(sample(EventNames.BuildSucceeded))).toBe('build.succeeded.my-fn');
    expect(routingKeyOf(sample(EventNames.ApiKeyRevoked))).toBe('apikey.revoked._');
    expect(routingKeyOf(sample(EventNames.EventCreated))).toBe('event.com.shop.order.placed.my-fn');
    expect(routingKeyOf({ ...sample(EventNames.EventCreated), type: 'ORDER_PLACED', functionLabel: null })).toBe('event.ORDER_PLACED._');
  });

  it('refuses what is not a CloudEvent, saying why', () => {
    const ce = toCloudEvent(sample(EventNames.InvocationSucceeded));
    const refusal = (value: unknown) => {
      try {
        fromCloudEvent(value);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidCloudEventError);
        return (err as InvalidCloudEventError).reason;
      }
      throw new Error('accepted');
    };
    expect(refusal([ce])).toBe('the message is not a JSON object');
    expect(refusal(sample(EventNames.InvocationSucceeded))).toBe('specversion must be "1.0"');
    expect(refusal({ ...ce, id: '' })).toBe('id must be a non-empty string');
    expect(refusal({ ...ce, time: 'yesterday' })).toBe('time must be an RFC 3339 date-time');
    expect(refusal({ ...ce, data: 'text' })).toContain('data must be a JSON object');
    expect(refusal({ ...ce, status: 'DONE' })).toBe('status must be one of PENDING, SUCCESS, FAILURE');
    expect(refusal({ ...ce, datacontenttype: 'text/plain' })).toBe('datacontenttype must be application/json');
  });
});
