import { messageEvent, batchEvent } from './cloudevent';
import { descriptorOf, sourceProblem, SOURCES, triggerKey, triggerSchemas } from './registry';

describe('event source registry', () => {
  it('knows each kind by its name and its aliases', () => {
    expect(descriptorOf('rabbitmq')?.kind).toBe('queue');
    expect(descriptorOf('cron')?.kind).toBe('schedule');
    expect(descriptorOf('nope')).toBeUndefined();
    expect(new Set(SOURCES.map((d) => d.kind)).size).toBe(SOURCES.length);
  });

  it("accepts each kind's own example", () => {
    for (const d of SOURCES) expect([d.kind, sourceProblem(d.example)]).toEqual([d.kind, undefined]);
  });

  it('names the field that is wrong, and refuses unknown fields and kinds', () => {
    expect(sourceProblem({ type: 'nats' })).toBe('nats trigger needs "subject": The subject (wildcards * and > allowed).');
    expect(sourceProblem({ type: 'nats', subject: 'a', batchSize: 0 })).toBe('nats trigger batchSize must be a whole number from 1 to 1000');
    expect(sourceProblem({ type: 'mqtt', topic: 'a/b', colour: 'red' })).toMatch(/^mqtt trigger has no field "colour" \(it has topic, url/);
    expect(sourceProblem({ type: 'smtp' })).toMatch(/^unknown trigger type "smtp"; use http, queue, nats/);
    expect(sourceProblem({ type: 'queue', url: 'http://x' })).toBe('queue trigger url must be a amqp or amqps URL, not http:');
    expect(sourceProblem({ type: 'queue', source: 'q', retry: { attempts: 0 } })).toBe('queue trigger retry.attempts must be a whole number from 1 to 50');
    expect(sourceProblem({ type: 'schedule', cron: '61 * * * *' })).toMatch(/^schedule trigger cron: "61 \* \* \* \*" is not a valid cron expression/);
    expect(sourceProblem({ type: 'http', path: '/a/../b' })).toBe('http trigger path must not contain "." or ".." segments');
  });

  it('keys a trigger by what it consumes, not by how it delivers', () => {
    const a = triggerKey({ type: 'queue', source: 'orders', batchSize: 1 });
    expect(triggerKey({ type: 'queue', source: 'orders', batchSize: 50, deliver: 'batch' })).toBe(a);
    expect(triggerKey({ type: 'rabbitmq', source: 'orders' })).toBe(a);
    expect(triggerKey({ type: 'queue', source: 'other' })).not.toBe(a);
  });

  it('gives an OpenAPI schema per kind that lists every field', () => {
    const schemas = triggerSchemas();
    for (const d of SOURCES) {
      const schema = Object.values(schemas).find((s) => (s.properties as Record<string, { enum?: string[] }>).type.enum?.includes(d.kind))!;
      expect(Object.keys(schema.properties as object).sort()).toEqual(['type', ...d.fields.map((f) => f.key)].sort());
    }
  });
});

describe('messageEvent', () => {
  it('wraps a plain message: data is the body as text', () => {
    const e = messageEvent({ kind: 'queue', from: 'orders', body: Buffer.from('{"id":7}'), contentType: 'application/json', id: 'm1' });
    expect(e).toMatchObject({ specversion: '1.0', id: 'm1', type: 'hks.queue.message', source: 'hks://queue/orders', data: '{"id":7}' });
    expect(JSON.parse(e.data as string).id).toBe(7);
  });

  it('keeps bytes that are not UTF-8 as data_base64', () => {
    const e = messageEvent({ kind: 'nats', from: 's', body: Buffer.from([0xff, 0x00, 0xfe]) });
    expect(e.data).toBeUndefined();
    expect(e.data_base64).toBe(Buffer.from([0xff, 0x00, 0xfe]).toString('base64'));
  });

  it('passes a structured CloudEvent as it is', () => {
    const ce = { specversion: '1.0', id: 'x', source: '/shop', type: 'order.placed', data: { id: 1 } };
    const e = messageEvent({ kind: 'queue', from: 'q', body: Buffer.from(JSON.stringify(ce)), contentType: 'application/cloudevents+json' });
    expect(e).toMatchObject(ce);
  });

  it('reads a binary-mode CloudEvent from its headers', () => {
    const e = messageEvent({
      kind: 'kafka',
      from: 't',
      body: Buffer.from('{"a":1}'),
      headers: { ce_id: 'i1', ce_source: '/s', ce_type: 't.x', ce_specversion: '1.0', 'content-type': 'application/json' },
    });
    expect(e).toMatchObject({ id: 'i1', source: '/s', type: 't.x', data: { a: 1 } });
  });

  it('makes one event of a batch whose id depends only on its messages', () => {
    const events = ['a', 'b'].map((id) => messageEvent({ kind: 'queue', from: 'q', body: Buffer.from(id), id }));
    expect(batchEvent(events, 'hks://queue/q').id).toBe(batchEvent(events, 'hks://queue/q').id);
    expect(batchEvent(events, 'hks://queue/q').data).toEqual(['a', 'b']);
  });
});
