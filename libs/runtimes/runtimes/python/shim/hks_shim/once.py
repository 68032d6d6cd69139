"""One-shot mode, for trying a function by hand: reads {"data": X} (data style) or {"request": {method,
path, query, headers, body, isBase64Encoded}} (HTTP style) on stdin, runs the handler once and prints
{statusCode, headers, body, isBase64Encoded} (or {error}) as one JSON line on stdout. What the handler
prints goes to stderr. Options: --code DIR (default: working directory), --entrypoint E."""
import asyncio
import base64
import inspect
import json
import os
import sys
import uuid

from .contract import body_is_text, http_input
from .invocation import Context, call, describe_error, finish, takes_context
from . import sdk_bridge
from .loader import load_handler, manifest_entrypoint


def _option(args, name):
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def _input_from(message):
    if isinstance(message, dict) and isinstance(message.get('request'), dict):
        r = message['request']
        headers = {str(k).lower(): str(v) for k, v in (r.get('headers') or {}).items()}
        raw = r.get('body') if isinstance(r.get('body'), str) else ''
        body = base64.b64decode(raw) if r.get('isBase64Encoded') else raw.encode('utf-8')
        return http_input(str(r.get('method') or 'GET').upper(), r.get('path') or '/', r.get('query') or {}, headers, body)
    if isinstance(message, dict) and 'data' in message:
        return message['data']
    return message


def run_once(args):
    out = sys.stdout
    # The handler's own output must not mix with the one JSON line this mode prints.
    sys.stdout = sys.stderr
    code_dir = os.path.abspath(_option(args, '--code') or os.getcwd())
    entrypoint = _option(args, '--entrypoint') or manifest_entrypoint(code_dir) or 'handler.*'
    try:
        text = sys.stdin.read()
        message = json.loads(text) if text.strip() else {}
        sdk_bridge.secret_refs_from_env()
        handler = load_handler(code_dir, entrypoint)
        fn = {'timeoutMs': 30000, 'maxResponseBytes': 6 * 1024 * 1024}
        result = call(handler, takes_context(handler), _input_from(message), Context(fn, {'invocationId': str(uuid.uuid4())}))
        if inspect.isawaitable(result):
            result = asyncio.new_event_loop().run_until_complete(result)
        status, value = finish(result, fn)
    except Exception as err:
        status, value = 'error', describe_error(err)
    if status == 'ok':
        code, headers, body, _ = value
        binary = not body_is_text(headers.get('content-type', ''), body)
        answer = {'statusCode': code, 'headers': headers, 'body': base64.b64encode(body).decode() if binary else body.decode('utf-8'), 'isBase64Encoded': binary}
    else:
        answer = {'statusCode': 500, 'error': {'name': value['name'], 'message': value['message']}}
    out.write(json.dumps(answer) + '\n')
    out.flush()
    sys.exit(1 if 'error' in answer else 0)
