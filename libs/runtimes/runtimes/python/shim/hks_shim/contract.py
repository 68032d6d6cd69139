"""The function contract: what a handler receives for an HTTP request and how its return value becomes
an HTTP response. Mirrors the node shim's lib/contract.js."""
import base64
import datetime
import decimal
import json
import re
from urllib.parse import parse_qs

_TEXT_TYPE = re.compile(r'^\s*(text/|application/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|graphql|yaml|x-yaml|x-ndjson)\b)', re.I)
_BINARY_TYPE = re.compile(r'^\s*((image|audio|video|font)/|application/(octet-stream|pdf|zip|gzip|x-tar|wasm|x-protobuf|protobuf|msgpack|x-msgpack)\b)', re.I)
_JSON_TYPE = re.compile(r'^\s*application/([\w.+-]*\+)?json\b', re.I)
_RESPONSE_KEYS = {'statusCode', 'headers', 'body', 'isBase64Encoded', 'multiValueHeaders', 'cookies'}
_HOP_BY_HOP = {'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'trailer', 'te', 'proxy-connection'}


class Request(dict):
    """A dict that also answers attributes: request.get('name'), request['name'] and request.method."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class ContractError(Exception):
    pass


def wrap(value):
    """A JSON object reaches the handler as a Request (so request.get('name') and request.name work)."""
    return Request(value) if isinstance(value, dict) else value


def body_is_text(content_type, body):
    if not body:
        return True
    if content_type:
        if _TEXT_TYPE.match(content_type):
            return True
        if _BINARY_TYPE.match(content_type):
            return False
    try:
        body.decode('utf-8')
        return True
    except UnicodeDecodeError:
        return False


def parse_query(qs):
    out = {}
    for key, values in parse_qs(qs or '', keep_blank_values=True).items():
        out[key] = values[0] if len(values) == 1 else values
    return out


def data_input(query, headers, body):
    """Returns (value, None) or (None, message for a 400)."""
    if not body:
        return query, None
    content_type = headers.get('content-type', '')
    is_json = bool(_JSON_TYPE.match(content_type))
    if not body_is_text(content_type, body):
        return base64.b64encode(body).decode('ascii'), None
    text = body.decode('utf-8')
    if is_json or not content_type:
        try:
            parsed = json.loads(text)
            if isinstance(parsed, dict) and 'data' in parsed:
                return parsed['data'], None
            return parsed, None
        except ValueError as err:
            if is_json:
                return None, 'The request body is not valid JSON (%s); send {"data": ...} or drop the JSON content type' % err
    return text, None


def http_input(method, path, query, headers, body):
    content_type = headers.get('content-type', '')
    text = body_is_text(content_type, body)
    request = {
        'method': method,
        'path': path or '/',
        'query': query,
        'headers': headers,
        'body': body.decode('utf-8') if text else base64.b64encode(body).decode('ascii'),
        'isBase64Encoded': not text,
    }
    if text and body and (_JSON_TYPE.match(content_type) or (not content_type and request['body'].lstrip().startswith('{'))):
        try:
            parsed = json.loads(request['body'])
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            for key, value in parsed.items():
                request.setdefault(key, value)
    return request


def _json_default(value):
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode('ascii')
    raise TypeError('Object of type %s is not JSON serializable' % type(value).__name__)


def to_json(value):
    try:
        return json.dumps(value, separators=(',', ':'), ensure_ascii=False, default=_json_default).encode('utf-8')
    except (TypeError, ValueError) as err:
        raise ContractError("the handler's return value cannot be turned into JSON: %s" % err) from None


def is_http_response(value):
    if not isinstance(value, dict):
        return False
    code = value.get('statusCode')
    if not isinstance(code, int) or isinstance(code, bool) or code < 100 or code > 599:
        return False
    return all(k in _RESPONSE_KEYS for k in value)


def _clean_headers(raw):
    out = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            lower = str(name).lower()
            if lower in _HOP_BY_HOP or value is None:
                continue
            out[lower] = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
    return out


def to_response(result):
    """Return value -> (status, headers, body bytes, is_json_value)."""
    if is_http_response(result):
        headers = _clean_headers(result.get('headers'))
        multi = result.get('multiValueHeaders')
        if isinstance(multi, dict):
            for name, values in multi.items():
                if isinstance(values, (list, tuple)) and str(name).lower() not in _HOP_BY_HOP:
                    headers[str(name).lower()] = [str(v) for v in values]
        cookies = result.get('cookies')
        if isinstance(cookies, (list, tuple)) and cookies:
            headers['set-cookie'] = [str(c) for c in cookies]
        b = result.get('body')
        if b is None:
            body = b''
        elif isinstance(b, str):
            body = base64.b64decode(b) if result.get('isBase64Encoded') else b.encode('utf-8')
        elif isinstance(b, (bytes, bytearray, memoryview)):
            body = bytes(b)
        else:
            body = to_json(b)
            headers.setdefault('content-type', 'application/json')
        if body and 'content-type' not in headers:
            textual = isinstance(b, str) and not result.get('isBase64Encoded')
            headers['content-type'] = 'text/plain; charset=utf-8' if textual else 'application/octet-stream'
        return result['statusCode'], headers, body, False
    if isinstance(result, (bytes, bytearray, memoryview)):
        return 200, {'content-type': 'application/octet-stream'}, bytes(result), False
    return 200, {'content-type': 'application/json'}, to_json(result), True
