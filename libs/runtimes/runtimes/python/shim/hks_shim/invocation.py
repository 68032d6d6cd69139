"""Runs one invocation: the handler with its input (and context when it takes one), sync or async.

asyncio and inspect are imported only when a handler needs them (an async one, an unusual callable): together they
are about 6 MB of every worker's memory, and most handlers are plain functions."""
import threading
import time
import traceback
import types

from .contract import ContractError, to_response, wrap
from . import sdk_bridge


class Context:
    def __init__(self, fn, ctx):
        self.invocation_id = ctx.get('invocationId')
        self.function_id = fn.get('functionId')
        self.function_name = fn.get('label')
        self.function_version = fn.get('version')
        self.memory_limit_in_mb = fn.get('memoryMb')
        deadline = ctx.get('deadline')
        self.deadline = deadline if isinstance(deadline, (int, float)) else time.time() * 1000 + (fn.get('timeoutMs') or 30000)

    def get_remaining_time_in_millis(self):
        return max(0, int(self.deadline - time.time() * 1000))


def describe_error(err):
    return {
        'name': type(err).__name__,
        'message': str(err) if str(err) else type(err).__name__,
        'stack': ''.join(traceback.format_exception(type(err), err, err.__traceback__)),
    }


CO_VARARGS = 0x04
CO_COROUTINE = 0x80


def _plain_function(handler):
    """(function, how many leading parameters are bound) for a plain or bound function; None for anything else."""
    fn, bound = handler, 0
    if isinstance(fn, types.MethodType):
        fn, bound = fn.__func__, 1
    # A decorated function may present another signature (functools.wraps, __signature__): inspect knows.
    if isinstance(fn, types.FunctionType) and not hasattr(fn, '__wrapped__') and not hasattr(fn, '__signature__'):
        return fn, bound
    return None


def is_async_handler(handler):
    """inspect.iscoroutinefunction of the handler or its __call__, without importing inspect for plain functions."""
    for candidate in (handler, getattr(handler, '__call__', None)):
        plain = _plain_function(candidate) if candidate is not None else None
        if plain is not None:
            if plain[0].__code__.co_flags & CO_COROUTINE:
                return True
        elif candidate is not None and not isinstance(candidate, (types.BuiltinFunctionType, types.MethodWrapperType)):
            import inspect

            if inspect.iscoroutinefunction(candidate):
                return True
    return False


def is_awaitable(value):
    """inspect.isawaitable for what handlers return (coroutines, futures, objects with __await__)."""
    return isinstance(value, types.CoroutineType) or getattr(type(value), '__await__', None) is not None


def takes_context(handler):
    plain = _plain_function(handler)
    if plain is not None:
        fn, bound = plain
        if fn.__code__.co_flags & CO_VARARGS:
            return 2
        return max(0, min(fn.__code__.co_argcount - bound, 2))
    import inspect

    try:
        params = [p for p in inspect.signature(handler).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return min(len(params), 2)


class BackgroundLoop:
    """One asyncio loop in its own thread, for async handlers when invocations run concurrently."""

    def __init__(self):
        self._loop = None
        self._lock = threading.Lock()

    def loop(self):
        with self._lock:
            if self._loop is None:
                import asyncio

                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name='hks-async', daemon=True).start()
            return self._loop


def finish(result, fn):
    """-> ('ok', (status, headers, body, json)) or ('error', description)."""
    try:
        status, headers, body, is_json = to_response(result)
    except ContractError as err:
        return 'error', {'name': 'ContractError', 'message': str(err)}
    limit = fn.get('maxResponseBytes')
    if limit and len(body) > limit:
        return 'error', {
            'name': 'ResponseTooLarge',
            'code': 'RESPONSE_TOO_LARGE',
            'message': "the function's response of %d bytes exceeds its limit of %d bytes (resources.maxResponseBytes)" % (len(body), limit),
        }
    return 'ok', (status, headers, body, is_json)


def call(handler, arity, value, context):
    # What the SDK sees as the invocation: this thread's, or (copied when the coroutine becomes a task) its task's.
    sdk_bridge.current.set(context)
    if arity == 0:
        return handler()
    if arity == 1:
        return handler(wrap(value))
    return handler(wrap(value), context)
