import { readSse, SseParser } from './sse';

describe('Server-Sent Events', () => {
  it('joins data lines per event across chunk boundaries and skips comments', () => {
    const p = new SseParser();
    expect(p.push(': keep-alive\n\ndata: {"a"')).toEqual([]);
    expect(p.push(':1}\n\nevent: x\ndata: line1\r\ndata: line2\r\n\r\ndata: tail')).toEqual(['{"a":1}', 'line1\nline2']);
    expect(p.push('\n\n')).toEqual(['tail']);
  });

  it('reads a stream to its end', async () => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('data: 1\n\nda'));
        c.enqueue(enc.encode('ta: 2\n\n'));
        c.close();
      },
    });
    const seen: string[] = [];
    await readSse(body, (d) => seen.push(d));
    expect(seen).toEqual(['1', '2']);
  });

  it('stops when aborted', async () => {
    const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode('data: 1\n\n')) });
    const controller = new AbortController();
    const seen: string[] = [];
    const done = readSse(
      body,
      (d) => {
        seen.push(d);
        controller.abort();
      },
      controller.signal,
    );
    await expect(done).resolves.toBeUndefined();
    expect(seen).toEqual(['1']);
  });
});
