import { functionContract as contract, workerProtocol as P } from './shims';

const { toResponse } = contract;

describe('function contract (shared by the invoker and the node shim)', () => {
  const json = { 'content-type': 'application/json' };

  it('gives a data-style handler the "data" field, the whole JSON body without one, or the query of a bodiless request', () => {
    expect(contract.dataInput({}, json, Buffer.from('{"data": [1, 2]}'))).toEqual({ value: [1, 2] });
    expect(contract.dataInput({}, json, Buffer.from('{"name": "Alice"}'))).toEqual({ value: { name: 'Alice' } });
    expect(contract.dataInput({ a: '1' }, {}, Buffer.alloc(0))).toEqual({ value: { a: '1' } });
    expect(contract.dataInput({}, { 'content-type': 'text/plain' }, Buffer.from('hello'))).toEqual({ value: 'hello' });
  });

  it('says what is wrong with a body that claims to be JSON and is not', () => {
    expect(contract.dataInput({}, json, Buffer.from('{"name": ')).error).toMatch(/^The request body is not valid JSON/);
  });

  it('gives an HTTP-style handler the request and the top-level fields of its JSON body, the request winning clashes', () => {
    const r = contract.httpInput('POST', '/x', { q: '1' }, json, Buffer.from('{"name": "Alice", "method": "DELETE"}'));
    expect(r).toMatchObject({
      method: 'POST',
      path: '/x',
      query: { q: '1' },
      body: '{"name": "Alice", "method": "DELETE"}',
      isBase64Encoded: false,
      name: 'Alice',
    });
  });

  it('hands binary bodies over as base64', () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    expect(contract.httpInput('PUT', '/', {}, { 'content-type': 'image/png' }, bytes)).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
    expect(contract.httpInput('PUT', '/', {}, {}, bytes)).toMatchObject({ isBase64Encoded: true });
  });

  it('parses repeated query parameters into lists', () => {
    expect(contract.parseQuery('a=1&a=2&b=x')).toEqual({ a: ['1', '2'], b: 'x' });
  });

  it('turns an HTTP response returned by a handler into status, headers and bytes (base64 decoded)', () => {
    const r = toResponse({
      statusCode: 201,
      headers: { 'X-Thing': 'y', Connection: 'close' },
      body: Buffer.from('hi').toString('base64'),
      isBase64Encoded: true,
    });
    expect(r.statusCode).toBe(201);
    expect(r.headers).toEqual({ 'x-thing': 'y', 'content-type': 'application/octet-stream' });
    expect(r.body.toString()).toBe('hi');
  });

  it('turns any other value into a 200 JSON answer, including objects that merely have a statusCode field', () => {
    expect(toResponse({ a: 1 })).toMatchObject({ statusCode: 200, json: true, headers: json });
    expect(toResponse({ statusCode: 200, total: 3 }).body.toString()).toBe('{"statusCode":200,"total":3}');
    expect(toResponse(undefined).body.toString()).toBe('null');
  });

  it('says why a return value cannot be sent', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => toResponse(circular)).toThrow(/cannot be turned into JSON/);
  });
});

describe('worker protocol frames', () => {
  it('reassembles frames split across chunks, and several frames in one chunk', () => {
    const got: Array<[number, number, string]> = [];
    const reader = new P.FrameReader(1 << 20, (type, id, body) => got.push([type, id, body.toString()]));
    const bytes = Buffer.concat([...P.encodeJson(P.Frame.HELLO, 0, { a: 1 }), ...P.encode(P.Frame.INVOKE, 7, Buffer.alloc(100_000, 'x'))]);
    for (let i = 0; i < bytes.length; i += 1000) reader.push(bytes.subarray(i, i + 1000));
    reader.push(Buffer.concat([...P.encodeJson(P.Frame.LOG, 3, 'one'), ...P.encodeJson(P.Frame.LOG, 4, 'two')]));
    expect(got.map(([t, id, b]) => [t, id, b.length])).toEqual([
      [P.Frame.HELLO, 0, 7],
      [P.Frame.INVOKE, 7, 100_000],
      [P.Frame.LOG, 3, 5],
      [P.Frame.LOG, 4, 5],
    ]);
  });

  it('carries a result: status, headers and raw body bytes', () => {
    let decoded: ReturnType<typeof P.decodeResult> | undefined;
    const reader = new P.FrameReader(1 << 20, (_t, _id, body) => (decoded = P.decodeResult(body)));
    for (const f of P.encodeResult(9, { statusCode: 201, headers: { a: 'b' }, json: false }, Buffer.from([1, 2, 3]))) reader.push(f);
    expect(decoded!.meta).toEqual({ statusCode: 201, headers: { a: 'b' }, json: false });
    expect([...decoded!.body]).toEqual([1, 2, 3]);
  });

  it('refuses a frame announcing more than the limit, before buffering it', () => {
    const reader = new P.FrameReader(1024, () => undefined);
    const header = Buffer.alloc(9);
    header.writeUInt32LE(10_000_000, 0);
    expect(() => reader.push(header)).toThrow(/exceeds the limit of 1024 bytes/);
  });
});
