package hks;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * An HTTP request as a handler sees it: method, path, query, headers (lower-case names), body, and the top-level fields
 * of a JSON object body ({@code req.get("name")}). Invoked data style ({"data": X}), it is a POST whose data is X.
 */
public final class Request {
  private final String method;
  private final String path;
  private final Map<String, List<String>> query;
  private final Map<String, List<String>> headers;
  private final String body;
  private final boolean base64;
  private final Map<String, Object> fields;
  private final Object data;
  private final boolean dataStyle;

  Request(String method, String path, Map<String, List<String>> query, Map<String, List<String>> headers, String body, boolean base64, Map<String, Object> fields, Object data, boolean dataStyle) {
    this.method = method;
    this.path = path;
    this.query = Collections.unmodifiableMap(query);
    this.headers = Collections.unmodifiableMap(headers);
    this.body = body;
    this.base64 = base64;
    this.fields = Collections.unmodifiableMap(fields);
    this.data = data;
    this.dataStyle = dataStyle;
  }

  public String getMethod() {
    return method;
  }

  public String getPath() {
    return path;
  }

  public Map<String, List<String>> getQuery() {
    return query;
  }

  /** The first value of query parameter {@code name}, or null. */
  public String getQueryParameter(String name) {
    List<String> v = query.get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  public Map<String, List<String>> getHeaders() {
    return headers;
  }

  /** The first value of header {@code name} (any case), or null. */
  public String getHeader(String name) {
    List<String> v = headers.get(name.toLowerCase(Locale.ROOT));
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  /** The body as text (base64 when {@link #isBase64Encoded}). */
  public String getBody() {
    return body;
  }

  public boolean isBase64Encoded() {
    return base64;
  }

  public byte[] getBodyBytes() {
    return base64 ? Base64.getDecoder().decode(body) : body.getBytes(StandardCharsets.UTF_8);
  }

  /** A top-level field of a JSON object body (or of the data), or null. */
  public Object get(String field) {
    return fields.get(field);
  }

  public Map<String, Object> getFields() {
    return fields;
  }

  /** The data (data style), or the parsed JSON body (HTTP style; null when the body is not JSON). */
  public Object getData() {
    return data;
  }

  /** Whether the function was invoked data style. */
  public boolean isDataStyle() {
    return dataStyle;
  }

  /** Everything as a map, in the shape of the platform's HTTP-style input. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>(fields);
    m.put("method", method);
    m.put("path", path);
    m.put("query", query);
    m.put("headers", headers);
    m.put("body", body);
    m.put("isBase64Encoded", base64);
    return m;
  }
}
