"""Runtime shim for Python functions: the worker protocol, the HTTP server mode and the one-shot mode."""
