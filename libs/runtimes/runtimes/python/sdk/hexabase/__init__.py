"""The function SDK for Python: `from hexabase import get_secret, logger, invocation_id, remaining_time_ms`.

It reads what the runtime's shim publishes (hks_shim/sdk_bridge.py); outside a function of the platform each call
says so."""
import sys
import time

__all__ = ['get_secret', 'invocation_id', 'remaining_time_ms', 'context', 'logger', 'SecretNotFound']


class SecretNotFound(KeyError):
    """The function was not given that secret (config.secrets)."""

    def __str__(self):
        return self.args[0] if self.args else 'secret not found'


def _bridge():
    bridge = sys.modules.get('hks_shim.sdk_bridge')
    if bridge is None:
        raise RuntimeError('hexabase: not running in a function of the platform (no runtime shim loaded)')
    return bridge


def context():
    """The current invocation's context (invocation_id, deadline, function_id ...), or None outside one."""
    return _bridge().current.get()


def invocation_id():
    """The id of the invocation being handled (as in its events and logs), or None outside one."""
    c = context()
    return c.invocation_id if c is not None else None


def remaining_time_ms():
    """Milliseconds left before the invocation's time limit (resources.timeoutMs), or None outside one."""
    c = context()
    return max(0, int(c.deadline - time.time() * 1000)) if c is not None else None


def get_secret(name):
    """The value of one of the function's secrets (config.secrets): by the secret's name ("openai-key"), by
    "name/key" for another key of it, or by the variable it is mapped to ("OPENAI_API_KEY"). Raises SecretNotFound,
    naming the function's secrets, for one it was not given."""
    import os

    if not isinstance(name, str) or not name:
        raise TypeError('get_secret(name): name must be a non-empty string')
    refs = _bridge().secret_refs()
    key_of = lambda r: r.get('key') or 'value'  # noqa: E731
    ref = (
        next((r for r in refs if r['secret'] == name and key_of(r) == 'value'), None)
        or next((r for r in refs if '%s/%s' % (r['secret'], key_of(r)) == name), None)
        or next((r for r in refs if r['secret'] == name), None)
        or next((r for r in refs if r['env'] == name), None)
    )
    if ref is None:
        given = ', '.join('%s%s (%s)' % (r['secret'], '' if key_of(r) == 'value' else '/' + key_of(r), r['env']) for r in refs) or 'none'
        raise SecretNotFound('hexabase: "%s" is not one of this function\'s secrets (config.secrets gives: %s)' % (name, given))
    value = os.environ.get(ref['env'])
    if value is None:
        raise SecretNotFound('hexabase: secret "%s" was not delivered to this worker (variable %s is unset)' % (ref['secret'], ref['env']))
    return value


class _Logger:
    """Writes lines tagged with the invocation id: "[<invocation id>] INFO message"."""

    def _write(self, stream, level, args):
        text = ' '.join(a if isinstance(a, str) else repr(a) for a in args)
        stream.write('[%s] %s %s\n' % (invocation_id() or '-', level, text))

    def debug(self, *args):
        self._write(sys.stdout, 'DEBUG', args)

    def info(self, *args):
        self._write(sys.stdout, 'INFO', args)

    def warning(self, *args):
        self._write(sys.stderr, 'WARN', args)

    warn = warning

    def error(self, *args):
        self._write(sys.stderr, 'ERROR', args)


logger = _Logger()
