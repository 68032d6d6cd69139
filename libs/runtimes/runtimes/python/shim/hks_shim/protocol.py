"""Frames between the invoker and a worker, the same as the node shim's lib/protocol.js:
[u32 LE length of what follows][u8 type][u32 LE id][body]."""
import json
import struct

LOAD = 1
INVOKE = 2
HELLO = 10
LOADED = 11
LOAD_ERROR = 12
RESULT = 13
ERROR = 14
LOG = 15

_HEADER = struct.Struct('<IBI')
_U32 = struct.Struct('<I')
# A RESULT frame's header and the length of its metadata, packed together.
_RESULT_HEAD = struct.Struct('<IBII')


class ProtocolError(Exception):
    pass


def encode(frame_type, frame_id, body=b''):
    return _HEADER.pack(len(body) + 5, frame_type, frame_id) + body


def encode_json(frame_type, frame_id, value):
    return encode(frame_type, frame_id, json.dumps(value, separators=(',', ':')).encode('utf-8'))


def encode_result(frame_id, meta, body):
    m = json.dumps(meta, separators=(',', ':')).encode('utf-8')
    # One join: the body (up to the response limit) is copied once, into the frame.
    return b''.join((_RESULT_HEAD.pack(5 + 4 + len(m) + len(body), RESULT, frame_id, len(m)), m, body))


def encode_log(frame_id, stream, text):
    return encode(LOG, frame_id, bytes((stream,)) + text.encode('utf-8', 'replace'))


class FrameReader:
    """Cuts a byte stream into (type, id, body) frames."""

    def __init__(self, max_frame_bytes):
        self.max = max_frame_bytes
        self.buf = bytearray()

    def push(self, data):
        self.buf += data
        frames = []
        offset = 0
        buf = self.buf
        while len(buf) - offset >= 4:
            (length,) = _U32.unpack_from(buf, offset)
            if length < 5 or length > self.max:
                raise ProtocolError('frame of %d bytes is out of bounds' % length)
            if len(buf) - offset - 4 < length:
                break
            _, frame_type, frame_id = _HEADER.unpack_from(buf, offset)
            # The slice is already a copy (a bytearray); json.loads, the only reader of a body, takes it as is.
            frames.append((frame_type, frame_id, buf[offset + 9:offset + 4 + length]))
            offset += 4 + length
        if offset:
            del self.buf[:offset]
        return frames
