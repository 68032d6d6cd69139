package hks;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executors;

/**
 * HTTP server mode: the entrypoint of the function's OCI image (Knative). Listens on PORT and runs the handler for
 * every request, HTTP style, or data style when the header x-hks-invocation-style says "data". Code from HKS_CODE_DIR
 * (default: the working directory), entry point from HKS_ENTRYPOINT or the bundle's .hks/manifest.json.
 */
final class HttpMode {
  private HttpMode() {}

  static final int DEFAULT_LIMIT = 6 * 1024 * 1024;

  static int intEnv(String name, int fallback) {
    try {
      int n = Integer.parseInt(System.getenv().getOrDefault(name, ""));
      return n > 0 ? n : fallback;
    } catch (NumberFormatException e) {
      return fallback;
    }
  }

  static void fail(HttpExchange ex, int status, String error, String message) throws IOException {
    Map<String, Object> b = new LinkedHashMap<>();
    b.put("statusCode", status);
    b.put("error", error);
    b.put("message", message);
    byte[] body = Json.stringify(b).getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("content-type", "application/json");
    ex.sendResponseHeaders(status, body.length);
    ex.getResponseBody().write(body);
    ex.close();
  }

  static void run() throws Exception {
    Path codeDir = Loader.path(System.getenv().getOrDefault("HKS_CODE_DIR", System.getProperty("user.dir")));
    String entrypoint = System.getenv("HKS_ENTRYPOINT");
    if (entrypoint == null) entrypoint = Loader.manifestEntrypoint(codeDir);
    if (entrypoint == null) entrypoint = "Handler.*";
    Loader.Call handler;
    try {
      handler = Loader.load(codeDir, entrypoint);
    } catch (Loader.LoadException e) {
      System.err.println("the function could not be loaded: " + e.getMessage());
      System.exit(1);
      return;
    }
    try {
      Hexabase.setSecretRefs(Json.parse(System.getenv().getOrDefault("HKS_SECRET_REFS", "[]")));
    } catch (Json.JsonException e) {
      Hexabase.setSecretRefs(null);
    }
    int maxRequest = intEnv("HKS_MAX_REQUEST_BYTES", DEFAULT_LIMIT);
    int maxResponse = intEnv("HKS_MAX_RESPONSE_BYTES", DEFAULT_LIMIT);
    int timeout = intEnv("HKS_TIMEOUT_MS", 30000);
    String label = System.getenv().getOrDefault("HKS_FUNCTION_LABEL", System.getenv("K_SERVICE"));
    int port = intEnv("PORT", 8080);
    HttpServer server = HttpServer.create(new InetSocketAddress(System.getenv().getOrDefault("HOST", "0.0.0.0"), port), 128);
    server.setExecutor(Executors.newCachedThreadPool());
    server.createContext("/", ex -> {
      try {
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
          body = in.readNBytes(maxRequest + 1);
        }
        if (body.length > maxRequest) {
          fail(ex, 413, "Payload Too Large", "the request body exceeds the function's limit of " + maxRequest + " bytes");
          return;
        }
        Map<String, Object> headers = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : ex.getRequestHeaders().entrySet()) {
          headers.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue().size() == 1 ? e.getValue().get(0) : e.getValue());
        }
        Map<String, Object> query = Contract.parseQuery(ex.getRequestURI().getRawQuery());
        Object input;
        if ("data".equals(headers.get("x-hks-invocation-style"))) {
          try {
            input = Contract.dataInput(query, headers.get("content-type") instanceof String s ? s : "", body);
          } catch (IllegalArgumentException e) {
            fail(ex, 400, "Bad Request", e.getMessage());
            return;
          }
        } else {
          input = Contract.httpInput(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), query, headers, body);
        }
        String id = headers.get("x-invocation-id") instanceof String s ? s : UUID.randomUUID().toString();
        Context ctx = new Context(id, System.getenv("HKS_FUNCTION_ID"), label, intEnv("HKS_FUNCTION_VERSION", 0), intEnv("HKS_MEMORY_MB", 0), System.currentTimeMillis() + timeout, System.out, System.err);
        Invocation.Outcome o = Invocation.run(handler, input, ctx, maxResponse);
        if (o.error != null) {
          System.err.println("invocation " + id + " failed: " + o.error.get("stack"));
          fail(ex, 500, "Internal Server Error", "RESPONSE_TOO_LARGE".equals(o.error.get("code")) ? String.valueOf(o.error.get("message")) : o.error.get("name") + ": " + o.error.get("message"));
          return;
        }
        for (Map.Entry<String, List<String>> e : o.response.headers.entrySet()) ex.getResponseHeaders().put(e.getKey(), e.getValue());
        byte[] out = o.response.body;
        ex.sendResponseHeaders(o.response.statusCode, out.length == 0 ? -1 : out.length);
        if (out.length > 0) ex.getResponseBody().write(out);
        ex.close();
      } catch (IOException | RuntimeException e) {
        System.err.println("answering " + ex.getRequestMethod() + " " + ex.getRequestURI() + " failed: " + e);
        ex.close();
      }
    });
    server.start();
    System.out.println("function " + (label != null ? label : entrypoint) + " listening on :" + port);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(1)));
  }
}
