import { isUuid } from '../uuid';
import { eventIdOf, readPostedCloudEvent } from './posted-event';

describe('posted CloudEvents', () => {
  it('keeps a UUID id as the event id and turns any other id into a UUIDv5 of source and id', () => {
    const uuid = '0B6F2C1E-4A5D-4F3B-9C8E-2D1A7B6C5E4F';
    expect(eventIdOf('shop', uuid)).toBe(uuid.toLowerCase());
    const derived = eventIdOf('https://shop.example/orders', 'order-42');
    expect(isUuid(derived)).toBe(true);
    expect(derived[14]).toBe('5');
    expect(eventIdOf('https://shop.example/orders', 'order-42')).toBe(derived);
    expect(eventIdOf('https://other.example', 'order-42')).not.toBe(derived);
  });

  it('reads the attributes it knows and keeps the others in metadata.cloudEvent', () => {
    expect(
      readPostedCloudEvent({ specversion: '1.0', id: 'a1', source: 'shop', type: 'com.shop.order.placed', time: '2026-01-31T12:00:00Z', data: [1], tier: 3 }),
    ).toEqual({
      id: eventIdOf('shop', 'a1'),
      type: 'com.shop.order.placed',
      source: 'shop',
      status: undefined,
      functionId: null,
      timestamp: '2026-01-31T12:00:00.000Z',
      payload: [1],
      metadata: { cloudEvent: { id: 'a1', tier: 3 } },
    });
  });
});
