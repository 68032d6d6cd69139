"""Runs one invocation: the handler with its input (and context when it takes one), sync or async."""
import asyncio
import inspect
import threading
import time
import traceback

from .contract import ContractError, to_response, wrap


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


def takes_context(handler):
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
    if arity == 0:
        return handler()
    if arity == 1:
        return handler(wrap(value))
    return handler(wrap(value), context)
