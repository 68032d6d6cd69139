"""What the function SDK (`hexabase`, ../../sdk/hexabase) reads: the invocation running in the current context
(contextvars: per thread and per asyncio task) and the function's secret references."""
import contextvars
import json
import os

current = contextvars.ContextVar('hexabase_invocation', default=None)
_secret_refs = []


def set_secret_refs(refs):
    """The function's config.secrets ({env, secret, key}); in http mode they come as HKS_SECRET_REFS (JSON)."""
    global _secret_refs
    _secret_refs = [r for r in (refs or []) if isinstance(r, dict) and isinstance(r.get('env'), str) and isinstance(r.get('secret'), str)]


def secret_refs_from_env():
    try:
        set_secret_refs(json.loads(os.environ.get('HKS_SECRET_REFS') or '[]'))
    except ValueError:
        set_secret_refs([])


def secret_refs():
    return _secret_refs
