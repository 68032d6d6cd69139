package hks;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An HTTP response: {@code Response.ok("hi")}, {@code Response.json(map)}, {@code Response.status(201).header(...).body(...)}. */
public final class Response {
  private int statusCode = 200;
  private final Map<String, List<String>> headers = new LinkedHashMap<>();
  private byte[] body = new byte[0];

  public static Response status(int statusCode) {
    Response r = new Response();
    r.statusCode = statusCode;
    return r;
  }

  public static Response ok(String body) {
    return status(200).body(body);
  }

  /** {@code value} as the JSON body. */
  public static Response json(Object value) {
    return status(200).header("content-type", "application/json").body(Json.stringify(value));
  }

  public Response statusCode(int statusCode) {
    this.statusCode = statusCode;
    return this;
  }

  /** Sets a header (replacing any value it had). */
  public Response header(String name, String value) {
    List<String> values = new ArrayList<>();
    values.add(value);
    headers.put(name.toLowerCase(java.util.Locale.ROOT), values);
    return this;
  }

  /** Adds a value to a header (Set-Cookie ...). */
  public Response addHeader(String name, String value) {
    headers.computeIfAbsent(name.toLowerCase(java.util.Locale.ROOT), k -> new ArrayList<>()).add(value);
    return this;
  }

  /** A text body (text/plain unless a content type is set). */
  public Response body(String text) {
    this.body = text.getBytes(StandardCharsets.UTF_8);
    headers.putIfAbsent("content-type", new ArrayList<>(List.of("text/plain; charset=utf-8")));
    return this;
  }

  /** A binary body (application/octet-stream unless a content type is set). */
  public Response body(byte[] bytes) {
    this.body = bytes.clone();
    headers.putIfAbsent("content-type", new ArrayList<>(List.of("application/octet-stream")));
    return this;
  }

  public int getStatusCode() {
    return statusCode;
  }

  public Map<String, List<String>> getHeaders() {
    return headers;
  }

  public byte[] getBody() {
    return body;
  }
}
