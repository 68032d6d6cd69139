package hks;

import java.net.URLDecoder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** The function contract of ../node/lib/contract.js: what a handler receives and how its result becomes a response. */
final class Contract {
  private Contract() {}

  static final Pattern TEXT_TYPE = Pattern.compile("^\\s*(text/|application/([\\w.+-]*\\+)?(json|xml|javascript|x-www-form-urlencoded|graphql|yaml|x-yaml|x-ndjson|ld\\+json)\\b)", Pattern.CASE_INSENSITIVE);
  static final Pattern BINARY_TYPE = Pattern.compile("^\\s*((image|audio|video|font)/|application/(octet-stream|pdf|zip|gzip|x-tar|wasm|x-protobuf|protobuf|msgpack|x-msgpack)\\b)", Pattern.CASE_INSENSITIVE);
  static final Pattern JSON_TYPE = Pattern.compile("^\\s*application/([\\w.+-]*\\+)?json\\b", Pattern.CASE_INSENSITIVE);
  static final Set<String> RESPONSE_KEYS = Set.of("statusCode", "headers", "body", "isBase64Encoded", "multiValueHeaders", "cookies");
  static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "trailer", "te", "proxy-connection");
  static final Set<String> HTTP_KEYS = Set.of("method", "path", "query", "headers", "body", "isBase64Encoded");

  static final class Out {
    int statusCode;
    Map<String, List<String>> headers = new LinkedHashMap<>();
    byte[] body;
    boolean json;
  }

  static final class ContractException extends RuntimeException {
    ContractException(String message) {
      super(message);
    }
  }

  static boolean isUtf8(byte[] b) {
    try {
      StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b));
      return true;
    } catch (CharacterCodingException e) {
      return false;
    }
  }

  static boolean bodyIsText(String contentType, byte[] body) {
    if (body.length == 0) return true;
    if (contentType != null && !contentType.isEmpty()) {
      if (TEXT_TYPE.matcher(contentType).find()) return true;
      if (BINARY_TYPE.matcher(contentType).find()) return false;
    }
    return isUtf8(body);
  }

  static List<String> strings(Object v) {
    List<String> out = new ArrayList<>();
    if (v instanceof List<?> l) for (Object o : l) out.add(String.valueOf(o));
    else if (v != null) out.add(String.valueOf(v));
    return out;
  }

  static boolean isHttpShape(Object input) {
    if (!(input instanceof Map<?, ?> m)) return false;
    return m.get("method") instanceof String && m.get("path") instanceof String && m.get("headers") instanceof Map && m.get("body") instanceof String && m.get("isBase64Encoded") instanceof Boolean;
  }

  /** The Request of an input: the invoker's HTTP-style object, or data (a POST of the data). */
  @SuppressWarnings("unchecked")
  static Request request(Object input) {
    if (isHttpShape(input)) {
      Map<String, Object> m = (Map<String, Object>) input;
      Map<String, List<String>> query = new LinkedHashMap<>();
      if (m.get("query") instanceof Map<?, ?> q) for (Map.Entry<?, ?> e : q.entrySet()) query.put(String.valueOf(e.getKey()), strings(e.getValue()));
      Map<String, List<String>> headers = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : ((Map<?, ?>) m.get("headers")).entrySet()) headers.put(String.valueOf(e.getKey()).toLowerCase(Locale.ROOT), strings(e.getValue()));
      Map<String, Object> fields = new LinkedHashMap<>();
      for (Map.Entry<String, Object> e : m.entrySet()) if (!HTTP_KEYS.contains(e.getKey())) fields.put(e.getKey(), e.getValue());
      String body = (String) m.get("body");
      boolean base64 = (Boolean) m.get("isBase64Encoded");
      Object data = null;
      if (!base64 && !body.isEmpty()) {
        try {
          data = Json.parse(body);
        } catch (Json.JsonException e) {
          data = null; // not JSON: the handler still has the raw body
        }
      }
      return new Request((String) m.get("method"), (String) m.get("path"), query, headers, body, base64, fields, data, false);
    }
    Map<String, List<String>> headers = new LinkedHashMap<>();
    headers.put("content-type", new ArrayList<>(List.of("application/json")));
    Map<String, Object> fields = new LinkedHashMap<>();
    if (input instanceof Map<?, ?> dm) for (Map.Entry<?, ?> e : dm.entrySet()) fields.put(String.valueOf(e.getKey()), e.getValue());
    return new Request("POST", "/", new LinkedHashMap<>(), headers, Json.stringify(input), false, fields, input, true);
  }

  static boolean isHttpResponse(Object v) {
    if (!(v instanceof Map<?, ?> m)) return false;
    if (!(m.get("statusCode") instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.intValue() < 100 || n.intValue() > 599) return false;
    for (Object k : m.keySet()) if (!RESPONSE_KEYS.contains(String.valueOf(k))) return false;
    return true;
  }

  /** A handler's return value -> the response (as contract.js toResponse does). */
  static Out toResponse(Object result) {
    Out out = new Out();
    if (result instanceof Response r) {
      out.statusCode = r.getStatusCode();
      for (Map.Entry<String, List<String>> e : r.getHeaders().entrySet()) if (!HOP_BY_HOP.contains(e.getKey())) out.headers.put(e.getKey(), e.getValue());
      out.body = r.getBody();
      if (out.body.length == 0) out.headers.remove("content-type");
      return out;
    }
    if (isHttpResponse(result)) {
      Map<?, ?> m = (Map<?, ?>) result;
      out.statusCode = ((Number) m.get("statusCode")).intValue();
      if (m.get("headers") instanceof Map<?, ?> h) {
        for (Map.Entry<?, ?> e : h.entrySet()) {
          String k = String.valueOf(e.getKey()).toLowerCase(Locale.ROOT);
          if (!HOP_BY_HOP.contains(k) && e.getValue() != null) out.headers.put(k, strings(e.getValue()));
        }
      }
      if (m.get("multiValueHeaders") instanceof Map<?, ?> mh) {
        for (Map.Entry<?, ?> e : mh.entrySet()) {
          String k = String.valueOf(e.getKey()).toLowerCase(Locale.ROOT);
          if (!HOP_BY_HOP.contains(k) && e.getValue() instanceof List) out.headers.put(k, strings(e.getValue()));
        }
      }
      if (m.get("cookies") instanceof List<?> c && !c.isEmpty()) out.headers.put("set-cookie", strings(c));
      Object b = m.get("body");
      boolean base64 = Boolean.TRUE.equals(m.get("isBase64Encoded"));
      if (b == null) out.body = new byte[0];
      else if (b instanceof String s) out.body = base64 ? Base64.getDecoder().decode(s) : s.getBytes(StandardCharsets.UTF_8);
      else if (b instanceof byte[] bytes) out.body = bytes;
      else {
        out.body = stringify(b).getBytes(StandardCharsets.UTF_8);
        out.headers.putIfAbsent("content-type", new ArrayList<>(List.of("application/json")));
      }
      if (!out.headers.containsKey("content-type") && out.body.length > 0) {
        out.headers.put("content-type", new ArrayList<>(List.of(b instanceof String && !base64 ? "text/plain; charset=utf-8" : "application/octet-stream")));
      }
      return out;
    }
    if (result instanceof byte[] bytes) {
      out.statusCode = 200;
      out.headers.put("content-type", new ArrayList<>(List.of("application/octet-stream")));
      out.body = bytes;
      return out;
    }
    out.statusCode = 200;
    out.headers.put("content-type", new ArrayList<>(List.of("application/json")));
    out.body = stringify(result).getBytes(StandardCharsets.UTF_8);
    out.json = true;
    return out;
  }

  static String stringify(Object v) {
    try {
      return Json.stringify(v);
    } catch (RuntimeException e) {
      throw new ContractException("the handler's return value cannot be turned into JSON: " + e.getMessage());
    }
  }

  static Map<String, Object> parseQuery(String qs) {
    Map<String, Object> out = new LinkedHashMap<>();
    if (qs == null || qs.isEmpty()) return out;
    for (String part : qs.split("&")) {
      if (part.isEmpty()) continue;
      int eq = part.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8);
      Object prev = out.get(k);
      if (prev == null) out.put(k, v);
      else if (prev instanceof List<?> l) {
        @SuppressWarnings("unchecked")
        List<Object> list = (List<Object>) l;
        list.add(v);
      } else out.put(k, new ArrayList<>(List.of(prev, v)));
    }
    return out;
  }

  /** Data style (http mode): {"data": X} -> X; JSON -> the JSON; no body -> the query; text -> the text; binary -> base64. */
  static Object dataInput(Map<String, Object> query, String contentType, byte[] body) {
    if (body.length == 0) return query;
    if (!bodyIsText(contentType, body)) return Base64.getEncoder().encodeToString(body);
    String text = new String(body, StandardCharsets.UTF_8);
    boolean isJson = contentType != null && JSON_TYPE.matcher(contentType).find();
    if (isJson || contentType == null || contentType.isEmpty()) {
      try {
        Object parsed = Json.parse(text);
        if (parsed instanceof Map<?, ?> m && m.containsKey("data")) return m.get("data");
        return parsed;
      } catch (Json.JsonException e) {
        if (isJson) throw new IllegalArgumentException("The request body is not valid JSON (" + e.getMessage() + "); send {\"data\": ...} or drop the JSON content type");
      }
    }
    return text;
  }

  /** HTTP style (http mode): the object the invoker builds (contract.js httpInput). */
  static Map<String, Object> httpInput(String method, String path, Map<String, Object> query, Map<String, Object> headers, byte[] body) {
    Object ct = headers.get("content-type");
    String contentType = ct instanceof String s ? s : "";
    boolean text = bodyIsText(contentType, body);
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("method", method);
    r.put("path", path == null || path.isEmpty() ? "/" : path);
    r.put("query", query);
    r.put("headers", headers);
    String b = text ? new String(body, StandardCharsets.UTF_8) : Base64.getEncoder().encodeToString(body);
    r.put("body", b);
    r.put("isBase64Encoded", !text);
    if (text && body.length > 0 && (JSON_TYPE.matcher(contentType).find() || (contentType.isEmpty() && b.stripLeading().startsWith("{")))) {
      try {
        if (Json.parse(b) instanceof Map<?, ?> m) for (Map.Entry<?, ?> e : m.entrySet()) r.putIfAbsent(String.valueOf(e.getKey()), e.getValue());
      } catch (Json.JsonException e) {
        // not JSON after all: the handler still has the raw body
      }
    }
    return r;
  }
}
