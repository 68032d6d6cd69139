import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { CreateEventDto, EventQueryDto, USER_EVENT_TYPES } from './event';
import { triggerProblem } from '../functions/validators';
import { customEventTypeProblem, eventTypeProblem, PLATFORM_EVENT_TYPES } from './event-types';

function messages<T extends object>(cls: new () => T, body: object): string[] {
  return validateSync(plainToInstance(cls, body)).flatMap((e) => Object.values(e.constraints ?? {}));
}

describe('custom event types', () => {
  it.each([...USER_EVENT_TYPES, 'com.shop.order.placed', 'invoice-paid.v2', 'a', 'Order_Placed.2026', 'x'.repeat(128)])(
    'accepts %s on POST /api/v3/events',
    (type) => {
      expect(messages(CreateEventDto, { type })).toEqual([]);
    },
  );

  it.each(PLATFORM_EVENT_TYPES)('refuses the platform type %s with a 400 that says why', (type) => {
    expect(messages(CreateEventDto, { type })).toEqual([
      `type ${type} is one of the platform's own event types (${PLATFORM_EVENT_TYPES.join(', ')}), which only the platform records; choose a type of your own, e.g. ORDER_PLACED or com.shop.order.placed`,
    ]);
  });

  it('refuses the platform CloudEvents namespace', () => {
    expect(customEventTypeProblem('dev.hks.invocation.succeeded')).toBe(
      "type dev.hks.invocation.succeeded is in the platform's own namespace (dev.hks.*); choose a type of your own, e.g. ORDER_PLACED or com.shop.order.placed",
    );
  });

  it.each([
    [
      'order placed',
      'type "order placed" is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (e.g. ORDER_PLACED or com.shop.order.placed)',
    ],
    [
      '1st.order',
      'type "1st.order" is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (e.g. ORDER_PLACED or com.shop.order.placed)',
    ],
    [
      'com..shop',
      'type "com..shop" is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (e.g. ORDER_PLACED or com.shop.order.placed)',
    ],
    [
      'order.*',
      'type "order.*" is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (e.g. ORDER_PLACED or com.shop.order.placed)',
    ],
    [
      'shop.',
      'type "shop." is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (e.g. ORDER_PLACED or com.shop.order.placed)',
    ],
    ['x'.repeat(129), 'type must be at most 128 characters (it has 129)'],
    [42, 'type must be an event type, e.g. ORDER_PLACED or com.shop.order.placed'],
  ])('refuses %j, saying what a type looks like', (type, message) => {
    expect(messages(CreateEventDto, { type })).toEqual([message]);
  });

  it('requires a type', () => {
    expect(messages(CreateEventDto, {})).toEqual(['type must be an event type, e.g. ORDER_PLACED or com.shop.order.placed']);
  });

  it('filters GET /api/v3/events by any type of the pattern, the platform types included', () => {
    for (const type of ['FUNCTION_INVOCATION', 'ORDER_PLACED', 'com.shop.order.placed']) expect(messages(EventQueryDto, { type })).toEqual([]);
    expect(messages(EventQueryDto, { type: 'not a type' })).toEqual([eventTypeProblem('not a type')]);
  });
});

describe('event triggers accept the same types', () => {
  it.each(['ORDER_PLACED', 'com.shop.order.placed', 'invoice-paid.v2'])('accepts an event trigger on %s', (eventType) => {
    expect(triggerProblem({ type: 'event', eventType })).toBeUndefined();
  });

  it('refuses a trigger type that no posted event could have, saying what a type looks like', () => {
    expect(triggerProblem({ type: 'event', eventType: 'order placed' })).toBe(
      'event trigger eventType "order placed" is not an event type (dot-separated words of letters, digits, _ and -, e.g. ORDER_PLACED or com.shop.order.placed)',
    );
    expect(triggerProblem({ type: 'event' })).toBe('event trigger needs "eventType": The event type that triggers the function.');
    expect(triggerProblem({ type: 'event', eventType: 'x'.repeat(129) })).toBe('event trigger eventType must be at most 128 characters');
  });

  it('takes exactly the types a user may post (the same pattern on both sides)', () => {
    for (const type of ['a', 'A.b-c_d', 'x1.2.3', '1abc', 'a..b', 'a.', '.a', 'a b', 'a/b', 'é']) {
      expect(triggerProblem({ type: 'event', eventType: type }) === undefined).toBe(eventTypeProblem(type) === null);
    }
  });
});
