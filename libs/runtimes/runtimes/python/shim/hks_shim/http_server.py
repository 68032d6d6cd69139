"""HTTP server mode: the entrypoint of a function's OCI image (Knative). Listens on PORT and runs the
handler for every request, HTTP style, or data style when the header x-hks-invocation-style is "data".
Code from HKS_CODE_DIR (default: the working directory), entry point from HKS_ENTRYPOINT or the
bundle's .hks/manifest.json."""
import asyncio
import inspect
import json
import os
import signal
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .contract import data_input, http_input, parse_query
from .invocation import BackgroundLoop, Context, call, describe_error, finish, takes_context
from . import sdk_bridge
from .loader import load_handler, manifest_entrypoint

STYLE_HEADER = 'x-hks-invocation-style'
DEFAULT_LIMIT = 6 * 1024 * 1024
METHODS = ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')


def _int_env(name, fallback):
    try:
        value = int(os.environ.get(name, ''))
        return value if value > 0 else fallback
    except ValueError:
        return fallback


def run_http_server():
    code_dir = os.path.abspath(os.environ.get('HKS_CODE_DIR') or os.getcwd())
    entrypoint = os.environ.get('HKS_ENTRYPOINT') or manifest_entrypoint(code_dir) or 'handler.*'
    try:
        sdk_bridge.secret_refs_from_env()
        handler = load_handler(code_dir, entrypoint)
    except Exception as err:
        sys.stderr.write('the function could not be loaded: %s\n' % err)
        sys.exit(1)
    fn = {
        'functionId': os.environ.get('HKS_FUNCTION_ID'),
        'label': os.environ.get('HKS_FUNCTION_LABEL') or os.environ.get('K_SERVICE'),
        'timeoutMs': _int_env('HKS_TIMEOUT_MS', 30000),
        'maxResponseBytes': _int_env('HKS_MAX_RESPONSE_BYTES', DEFAULT_LIMIT),
    }
    max_request = _int_env('HKS_MAX_REQUEST_BYTES', DEFAULT_LIMIT)
    arity = takes_context(handler)
    background = BackgroundLoop()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, fmt, *args):
            pass

        def answer(self, status, headers, body):
            self.send_response(status)
            for name, value in headers.items():
                for v in value if isinstance(value, list) else [value]:
                    self.send_header(name, v)
            self.send_header('content-length', str(len(body)))
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)

        def fail(self, status, error, message):
            body = json.dumps({'statusCode': status, 'error': error, 'message': message}).encode()
            self.answer(status, {'content-type': 'application/json'}, body)

        def serve(self):
            length = int(self.headers.get('content-length') or 0)
            if length > max_request:
                self.close_connection = True
                return self.fail(413, 'Payload Too Large', "the request body exceeds the function's limit of %d bytes" % max_request)
            body = self.rfile.read(length) if length else b''
            headers = {k.lower(): v for k, v in self.headers.items()}
            path, _, qs = self.path.partition('?')
            query = parse_query(qs)
            if headers.get(STYLE_HEADER) == 'data':
                value, problem = data_input(query, headers, body)
                if problem:
                    return self.fail(400, 'Bad Request', problem)
            else:
                value = http_input(self.command, path, query, headers, body)
            ctx = {'invocationId': headers.get('x-invocation-id') or str(uuid.uuid4()), 'deadline': time.time() * 1000 + fn['timeoutMs']}
            try:
                result = call(handler, arity, value, Context(fn, ctx))
                if inspect.isawaitable(result):
                    result = asyncio.run_coroutine_threadsafe(_await(result), background.loop()).result()
                status, out = finish(result, fn)
            except Exception as err:
                status, out = 'error', describe_error(err)
            if status != 'ok':
                sys.stderr.write('invocation %s failed: %s\n' % (ctx['invocationId'], out.get('stack') or out['message']))
                message = out['message'] if out.get('code') == 'RESPONSE_TOO_LARGE' else '%s: %s' % (out['name'], out['message'])
                return self.fail(500, 'Internal Server Error', message)
            code, response_headers, response_body, _ = out
            self.answer(code, response_headers, response_body)

    for method in METHODS:
        setattr(Handler, 'do_' + method, Handler.serve)

    port = _int_env('PORT', 8080)
    server = ThreadingHTTPServer((os.environ.get('HOST') or '0.0.0.0', port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print('function %s listening on :%d' % (fn['label'] or entrypoint, port), flush=True)
    server.serve_forever()


async def _await(awaitable):
    return await awaitable
