"""Captures what a handler prints: sys.stdout/sys.stderr are replaced by writers that tag every write
with the invocation whose context it happens in (contextvars), so concurrent invocations each get
their own logs. Output of child processes still goes to the worker's real fds 1/2."""
import contextvars
import io

current = contextvars.ContextVar('hks_invocation', default=0)


class _BinaryView:
    def __init__(self, owner):
        self._owner = owner

    def write(self, data):
        self._owner.write(bytes(data).decode('utf-8', 'replace'))
        return len(data)

    def flush(self):
        pass


class CapturedStream(io.TextIOBase):
    def __init__(self, fd, sink):
        super().__init__()
        self._fd = fd
        self._sink = sink
        self.buffer = _BinaryView(self)

    @property
    def encoding(self):
        return 'utf-8'

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError('write() argument must be str, not %s' % type(text).__name__)
        if text:
            self._sink(current.get(), self._fd, text)
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return self._fd


def capture_output(sink):
    import sys
    sys.stdout = CapturedStream(1, sink)
    sys.stderr = CapturedStream(2, sink)
