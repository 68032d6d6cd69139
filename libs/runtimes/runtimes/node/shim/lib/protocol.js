'use strict';
/**
 * The worker protocol: length-prefixed frames over one socket (fd 3 inside the sandbox).
 *   [u32 LE length of what follows][u8 type][u32 LE id][body]
 * `id` is the invocation's sequence number on that worker (0 for frames about the worker itself), so
 * results and log lines of concurrent invocations never mix. Shared by the node shim and the invoker.
 */
const HEADER_BYTES = 9;

const Frame = Object.freeze({
  // invoker -> worker
  LOAD: 1, // JSON LoadSpec: the function to load (entry point, env, limits)
  INVOKE: 2, // JSON {input, ctx}
  // worker -> invoker
  HELLO: 10, // JSON {runtime, version}: the shim is up and waits for LOAD
  LOADED: 11, // JSON {ms, concurrency}: how long loading took, how many invocations the function runs at once
  LOAD_ERROR: 12, // JSON {name, message, stack}
  RESULT: 13, // [u32 LE meta length][meta JSON {statusCode, headers, json}][raw body bytes]
  ERROR: 14, // JSON {name, message, stack, code?}
  LOG: 15, // [u8 stream: 1 stdout, 2 stderr][UTF-8 text]
});

const EMPTY = Buffer.alloc(0);
/** Bodies up to this size are copied into one buffer (one write); larger ones go out as header + body. */
const COPY_LIMIT = 64 * 1024;

/** One frame as a buffer, or [header, body] when the body is large enough that copying it would cost. */
function encode(type, id, body) {
  const b = body || EMPTY;
  const header = Buffer.allocUnsafe(b.length <= COPY_LIMIT ? HEADER_BYTES + b.length : HEADER_BYTES);
  header.writeUInt32LE(b.length + 5, 0);
  header[4] = type;
  header.writeUInt32LE(id >>> 0, 5);
  if (b.length <= COPY_LIMIT) {
    b.copy(header, HEADER_BYTES);
    return [header];
  }
  return [header, b];
}

/** A JSON frame: the text is written straight into the frame's one buffer (no intermediate copy). */
function encodeJson(type, id, value) {
  const text = JSON.stringify(value);
  const length = Buffer.byteLength(text, 'utf8');
  const frame = Buffer.allocUnsafe(HEADER_BYTES + length);
  frame.writeUInt32LE(length + 5, 0);
  frame[4] = type;
  frame.writeUInt32LE(id >>> 0, 5);
  frame.write(text, HEADER_BYTES, length, 'utf8');
  return [frame];
}

function encodeResult(id, meta, body) {
  const m = Buffer.from(JSON.stringify(meta), 'utf8');
  const b = body || EMPTY;
  const small = b.length <= COPY_LIMIT;
  const head = Buffer.allocUnsafe(HEADER_BYTES + 4 + m.length + (small ? b.length : 0));
  head.writeUInt32LE(5 + 4 + m.length + b.length, 0);
  head[4] = Frame.RESULT;
  head.writeUInt32LE(id >>> 0, 5);
  head.writeUInt32LE(m.length, HEADER_BYTES);
  m.copy(head, HEADER_BYTES + 4);
  if (small) {
    b.copy(head, HEADER_BYTES + 4 + m.length);
    return [head];
  }
  return [head, b];
}

function decodeResult(body) {
  const metaLength = body.readUInt32LE(0);
  if (4 + metaLength > body.length) throw new ProtocolError('result frame shorter than its metadata');
  const meta = JSON.parse(body.toString('utf8', 4, 4 + metaLength));
  return { meta, body: body.subarray(4 + metaLength) };
}

function encodeLog(id, stream, text) {
  const t = Buffer.from(text, 'utf8');
  const b = Buffer.allocUnsafe(1 + t.length);
  b[0] = stream;
  t.copy(b, 1);
  return encode(Frame.LOG, id, b);
}

class ProtocolError extends Error {}

/**
 * Cuts a byte stream into frames. A frame announcing more than `maxFrameBytes` is a protocol error (a
 * misbehaving worker must not make the invoker buffer without bound).
 */
class FrameReader {
  constructor(maxFrameBytes, onFrame) {
    this.maxFrameBytes = maxFrameBytes;
    this.onFrame = onFrame;
    this.chunks = [];
    this.buffered = 0;
    /** Bytes the frame being assembled needs (length prefix included); 0 while its length is unknown. */
    this.needed = 0;
  }

  push(chunk) {
    if (this.buffered === 0) {
      // Fast path: frames parsed straight from the chunk, no copy.
      let offset = 0;
      while (chunk.length - offset >= 4) {
        const length = this.checkLength(chunk.readUInt32LE(offset));
        if (chunk.length - offset - 4 < length) break;
        this.emit(chunk, offset, length);
        offset += 4 + length;
      }
      if (offset === chunk.length) return;
      const rest = offset === 0 ? chunk : chunk.subarray(offset);
      this.chunks = [rest];
      this.buffered = rest.length;
      this.needed = rest.length >= 4 ? 4 + this.checkLength(rest.readUInt32LE(0)) : 0;
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.needed === 0) {
      if (this.buffered < 4) return;
      const head = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [head];
      this.needed = 4 + this.checkLength(head.readUInt32LE(0));
    }
    // Large frames arrive in many chunks: they are joined once, when complete.
    if (this.buffered < this.needed) return;
    const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const needed = this.needed;
    this.chunks = [];
    this.buffered = 0;
    this.needed = 0;
    this.emit(data, 0, needed - 4);
    if (data.length > needed) this.push(data.subarray(needed));
  }

  checkLength(length) {
    if (length < 5) throw new ProtocolError(`frame of ${length} bytes is too short`);
    if (length > this.maxFrameBytes) throw new ProtocolError(`frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes} bytes`);
    return length;
  }

  emit(buf, offset, length) {
    const type = buf[offset + 4];
    const id = buf.readUInt32LE(offset + 5);
    this.onFrame(type, id, buf.subarray(offset + 9, offset + 4 + length));
  }
}

module.exports = { Frame, HEADER_BYTES, encode, encodeJson, encodeResult, decodeResult, encodeLog, FrameReader, ProtocolError };
