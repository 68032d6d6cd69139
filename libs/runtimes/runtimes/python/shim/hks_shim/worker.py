"""Worker mode: a generic worker started (in its sandbox) before it knows its function. It says HELLO on
fd 3, waits for LOAD (entry point, env, limits), then serves INVOKE frames until the invoker goes away.
With concurrency 1 a sync handler runs right on the reading thread (no hand-over); with more, sync
handlers run on a thread pool and async ones on one background event loop. An async handler of a function
that left concurrency to the runtime takes asyncConcurrency at once; LOADED says how many it takes."""
import json
import os
import socket
import sys
import threading
import time

from . import protocol as P
from .capture import capture_output, current
from .invocation import BackgroundLoop, Context, call, describe_error, finish, is_async_handler, is_awaitable, takes_context
from . import sdk_bridge
from .loader import load_handler

CONTROL_FD = 3
O_CLOEXEC = 0o2000000
MAX_INBOUND_FRAME = 160 * 1024 * 1024
LOG_LIMIT = 64 * 1024


def close_leaked_fds():
    """Closes descriptors inherited by accident from whatever started the invoker (they lack O_CLOEXEC)."""
    try:
        names = os.listdir('/proc/self/fd')
    except OSError:
        return
    for name in names:
        fd = int(name)
        if fd <= CONTROL_FD:
            continue
        try:
            with open('/proc/self/fdinfo/%d' % fd) as f:
                flags = next((line.split()[1] for line in f if line.startswith('flags:')), None)
            if flags is not None and int(flags, 8) & O_CLOEXEC == 0:
                os.close(fd)
        except OSError:
            pass


class Worker:
    def __init__(self):
        self.sock = socket.socket(fileno=CONTROL_FD)
        self.lock = threading.Lock()
        self.log_bytes = {}
        self.base_env = dict(os.environ)
        self.fn = None
        self.handler = None
        self.load_failure = None
        self.arity = 1
        self.inline = True
        self.is_async = False
        self.pool = None
        self.loop = None
        self.background = BackgroundLoop()

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def sink(self, frame_id, fd, text):
        if frame_id:
            with self.lock:
                sent = self.log_bytes.get(frame_id)
                if sent is None:
                    return
                self.log_bytes[frame_id] = sent + len(text)
            if sent >= LOG_LIMIT:
                return
            if sent + len(text) > LOG_LIMIT:
                text = text[:LOG_LIMIT - sent]
        self.send(P.encode_log(frame_id, fd, text))

    def on_load(self, body):
        if self.fn is not None:
            return self.send(P.encode_json(P.LOAD_ERROR, 0, {'name': 'LoadError', 'message': 'this worker already runs a function'}))
        started = time.perf_counter()
        try:
            spec = json.loads(body)
            os.environ.clear()
            os.environ.update(self.base_env)
            os.environ.update(spec.get('env') or {})
            sdk_bridge.set_secret_refs(spec.get('secrets'))
            code_dir = spec.get('codeDir') or '/code'
            os.chdir(code_dir)
            handler = load_handler(code_dir, spec.get('entrypoint'))
        except BaseException as err:  # noqa: B902 - a SystemExit at import time is a load failure too
            self.load_failure = describe_error(err)
            return self.send(P.encode_json(P.LOAD_ERROR, 0, self.load_failure))
        self.handler = handler
        self.arity = takes_context(handler)
        self.is_async = is_async_handler(handler)
        if self.is_async:
            import asyncio  # noqa: F401 - here rather than on the first invocation: loading is part of the cold start
        # An async def handler left to the runtime's default takes what an event loop takes (asyncConcurrency).
        concurrency = (self.is_async and spec.get('asyncConcurrency')) or spec.get('concurrency') or 1
        self.inline = concurrency <= 1
        if not self.inline and not self.is_async:
            from concurrent.futures import ThreadPoolExecutor
            self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix='hks-invoke')
        self.fn = spec
        self.send(P.encode_json(P.LOADED, 0, {'ms': (time.perf_counter() - started) * 1000, 'concurrency': concurrency}))

    def reply(self, frame_id, status, out):
        with self.lock:
            logged = self.log_bytes.pop(frame_id, 0)
        if logged > LOG_LIMIT:
            self.send(P.encode_log(frame_id, 2, '\n...[logs truncated: %d more characters]\n' % (logged - LOG_LIMIT)))
        if status == 'ok':
            code, headers, body, is_json = out
            self.send(P.encode_result(frame_id, {'statusCode': code, 'headers': headers, 'json': is_json}, body))
        else:
            self.send(P.encode_json(P.ERROR, frame_id, out))

    def await_result(self, awaitable):
        import asyncio

        if self.inline:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
            return self.loop.run_until_complete(awaitable)
        return asyncio.run_coroutine_threadsafe(_as_coroutine(awaitable), self.background.loop()).result()

    def run_one(self, frame_id, value, ctx):
        token = current.set(frame_id)
        try:
            result = call(self.handler, self.arity, value, Context(self.fn, ctx))
            if is_awaitable(result):
                result = self.await_result(result)
            status, out = finish(result, self.fn)
        except BaseException as err:  # noqa: B902 - sys.exit() in a handler fails the invocation, not the worker
            status, out = 'error', describe_error(err)
        finally:
            current.reset(token)
        self.reply(frame_id, status, out)

    async def run_async(self, frame_id, value, ctx):
        current.set(frame_id)
        try:
            result = await call(self.handler, self.arity, value, Context(self.fn, ctx))
            status, out = finish(result, self.fn)
        except BaseException as err:  # noqa: B902
            status, out = 'error', describe_error(err)
        self.reply(frame_id, status, out)

    def on_invoke(self, frame_id, body):
        if self.handler is None:
            # Invocations sent right behind LOAD arrive after it was handled (frames are read in order).
            if self.load_failure is not None:
                error = {'name': 'LoadError', 'message': 'the function could not be loaded: %s' % self.load_failure['message']}
            else:
                error = {'name': 'StateError', 'message': 'no function is loaded in this worker'}
            return self.send(P.encode_json(P.ERROR, frame_id, error))
        try:
            request = json.loads(body)
        except ValueError as err:
            return self.send(P.encode_json(P.ERROR, frame_id, {'name': 'ProtocolError', 'message': 'unreadable invocation: %s' % err}))
        value, ctx = request.get('input'), request.get('ctx') or {}
        with self.lock:
            self.log_bytes[frame_id] = 0
        if self.inline:
            self.run_one(frame_id, value, ctx)
        elif self.is_async:
            import asyncio

            asyncio.run_coroutine_threadsafe(self.run_async(frame_id, value, ctx), self.background.loop())
        else:
            self.pool.submit(self.run_one, frame_id, value, ctx)

    def run(self):
        capture_output(self.sink)
        self.send(P.encode_json(P.HELLO, 0, {'runtime': 'python', 'version': sys.version.split()[0]}))
        reader = P.FrameReader(MAX_INBOUND_FRAME)
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b''
            if not data:
                os._exit(0)  # the invoker is gone: nothing left to serve
            try:
                frames = reader.push(data)
            except P.ProtocolError as err:
                os.write(2, ('worker protocol error: %s\n' % err).encode())
                os._exit(70)
            for frame_type, frame_id, body in frames:
                if frame_type == P.INVOKE:
                    self.on_invoke(frame_id, body)
                elif frame_type == P.LOAD:
                    self.on_load(body)


async def _as_coroutine(awaitable):
    return await awaitable


def run_worker():
    close_leaked_fds()
    Worker().run()
