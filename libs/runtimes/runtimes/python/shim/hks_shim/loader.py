"""Finds a function's handler from its entry point "<module>.<function>"; "<module>.*" auto-detects
handle, then handler, then main. The module may name a file path ("src/app") or a dotted module."""
import importlib
import importlib.util
import os
import sys
import json

AUTO_NAMES = ('handle', 'handler', 'main')


class LoadError(Exception):
    pass


def split_entrypoint(entrypoint):
    dot = entrypoint.rfind('.') if isinstance(entrypoint, str) else -1
    if dot <= 0 or dot == len(entrypoint) - 1:
        raise LoadError('entry point "%s" must look like "<module>.<function>", e.g. "handler.handle" or "handler.*"' % entrypoint)
    return entrypoint[:dot], entrypoint[dot + 1:]


def _module_file(code_dir, module):
    as_path = module.replace('.', '/') if '/' not in module else module
    candidates = [module + '.py', as_path + '.py', os.path.join(as_path, '__init__.py')]
    for rel in dict.fromkeys(candidates):
        full = os.path.realpath(os.path.join(code_dir, rel))
        if not full.startswith(os.path.realpath(code_dir) + os.sep):
            raise LoadError('entry module "%s" is outside the function\'s code' % module)
        if os.path.isfile(full):
            return full
    raise LoadError('cannot find the entry module "%s" in the function\'s code (looked for %s)' % (module, ', '.join(dict.fromkeys(candidates))))


def load_handler(code_dir, entrypoint):
    module, fn = split_entrypoint(entrypoint)
    code_dir = os.path.abspath(code_dir)
    # Dependencies installed at build time live in .deps; the function's own folder comes first.
    for p in (os.path.join(code_dir, '.deps'), code_dir):
        if p not in sys.path:
            sys.path.insert(0, p)
    path = _module_file(code_dir, module)
    try:
        if '/' in module:
            name = 'hks_function_' + module.replace('/', '_').replace('.', '_')
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(module)
    except Exception as err:  # the user's module failed to import: say why in their terms
        raise LoadError('loading %s failed: %s: %s' % (os.path.relpath(path, code_dir), type(err).__name__, err)) from None
    names = AUTO_NAMES if fn == '*' else (fn,)
    for name in names:
        handler = getattr(mod, name, None)
        if callable(handler):
            return handler
    exported = [n for n in dir(mod) if not n.startswith('_') and callable(getattr(mod, n, None))]
    wanted = 'a function named handle, handler or main' if fn == '*' else 'a function named "%s"' % fn
    raise LoadError('%s does not define %s; it defines %s' % (os.path.relpath(path, code_dir), wanted, ', '.join(exported) or 'no functions'))


def manifest_entrypoint(code_dir):
    try:
        with open(os.path.join(code_dir, '.hks', 'manifest.json'), encoding='utf-8') as f:
            value = json.load(f).get('entrypoint')
            return value if isinstance(value, str) else None
    except (OSError, ValueError):
        return None
