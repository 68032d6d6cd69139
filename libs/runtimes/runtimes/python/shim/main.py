"""The Python runtime shim. Modes:
  --worker   the invoker's sandboxed worker (frames on fd 3; see hks_shim/protocol.py)
  --http     an HTTP server on PORT (the OCI image entrypoint, for Knative)
  --once     run the handler once with a request read from stdin (for trying a function by hand)
"""
import os
import sys

# `python3 -I` does not put the script's folder on the path; the shim's package sits next to it, and the function
# SDK (`from hexabase import get_secret`) beside the shim, after the function's own modules.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _here)
sys.path.append(os.path.join(os.path.dirname(_here), 'sdk'))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else '--http'
    if mode == '--worker':
        from hks_shim.worker import run_worker
        run_worker()
    elif mode == '--http':
        from hks_shim.http_server import run_http_server
        run_http_server()
    elif mode == '--once':
        from hks_shim.once import run_once
        run_once(sys.argv[2:])
    else:
        sys.stderr.write('unknown mode %s; use --worker, --http or --once\n' % mode)
        sys.exit(64)


if __name__ == '__main__':
    main()
