package hks;

import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Worker mode: a generic JVM started (in its sandbox) before it knows its function, its control socket on fd 0
 * (System.inheritedChannel; the launcher moves the invoker's fd 3 there). It says HELLO, waits for LOAD (entry point,
 * env, limits), loads the handler's classes, then serves INVOKE frames until the invoker goes away. Frames as in
 * ../README.md.
 */
class Worker {
  static final int LOAD = 1, INVOKE = 2, HELLO = 10, LOADED = 11, LOAD_ERROR = 12, RESULT = 13, ERROR = 14, LOG = 15;
  static final int MAX_INBOUND_FRAME = 160 * 1024 * 1024;
  static final int LOG_LIMIT = 64 * 1024;

  private final SocketChannel channel;
  private final Object sendLock = new Object();
  private final Map<Integer, AtomicInteger> logged = new ConcurrentHashMap<>();
  /** The invocation the current thread (and the threads it starts) works for: what it prints is that invocation's. */
  private final InheritableThreadLocal<Integer> current = new InheritableThreadLocal<>();
  private final Map<String, String> baseEnv = new HashMap<>(System.getenv());
  private Map<String, Object> spec;
  private Loader.Call handler;
  private String loadFailure;
  private ExecutorService pool;
  private PrintStream stdout;
  private PrintStream stderr;

  Worker(SocketChannel channel) {
    this.channel = channel;
  }

  static ByteBuffer frame(int type, int id, byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) n += p.length;
    ByteBuffer b = ByteBuffer.allocate(9 + n).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(n + 5).put((byte) type).putInt(id);
    for (byte[] p : parts) b.put(p);
    return b.flip();
  }

  static ByteBuffer jsonFrame(int type, int id, Object value) {
    return frame(type, id, Json.stringify(value).getBytes(StandardCharsets.UTF_8));
  }

  static ByteBuffer resultFrame(int id, Contract.Out out) {
    Map<String, Object> headers = new LinkedHashMap<>();
    for (Map.Entry<String, List<String>> e : out.headers.entrySet()) headers.put(e.getKey(), e.getValue().size() == 1 ? e.getValue().get(0) : e.getValue());
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("statusCode", out.statusCode);
    meta.put("headers", headers);
    meta.put("json", out.json);
    byte[] m = Json.stringify(meta).getBytes(StandardCharsets.UTF_8);
    byte[] len = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(m.length).array();
    return frame(RESULT, id, len, m, out.body);
  }

  void send(ByteBuffer... frames) {
    synchronized (sendLock) {
      try {
        for (ByteBuffer f : frames) while (f.hasRemaining()) channel.write(f);
      } catch (IOException e) {
        Runtime.getRuntime().halt(0); // the invoker is gone
      }
    }
  }

  /** Output of invocation {@code id} (0: the worker's own), within its allowance. */
  void log(int id, int stream, byte[] text) {
    if (id != 0) {
      AtomicInteger count = logged.get(id);
      if (count == null) id = 0; // written after the invocation answered
      else {
        int sent = count.getAndAdd(text.length);
        if (sent >= LOG_LIMIT) return;
        if (sent + text.length > LOG_LIMIT) text = java.util.Arrays.copyOf(text, LOG_LIMIT - sent);
      }
    }
    byte[] body = new byte[text.length + 1];
    body[0] = (byte) stream;
    System.arraycopy(text, 0, body, 1, text.length);
    send(frame(LOG, id, body));
  }

  private final class Captured extends OutputStream {
    private final int stream;

    Captured(int stream) {
      this.stream = stream;
    }

    @Override
    public void write(int b) {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      if (len == 0) return;
      Integer id = current.get();
      log(id == null ? 0 : id, stream, java.util.Arrays.copyOfRange(b, off, off + len));
    }
  }

  private static int intOf(Object v, int fallback) {
    return v instanceof Number n ? n.intValue() : fallback;
  }

  @SuppressWarnings("unchecked")
  void onLoad(byte[] body) {
    if (spec != null) {
      send(jsonFrame(LOAD_ERROR, 0, Map.of("name", "LoadError", "message", "this worker already runs a function")));
      return;
    }
    long started = System.nanoTime();
    try {
      Map<String, Object> s = (Map<String, Object>) Json.parse(new String(body, StandardCharsets.UTF_8));
      Map<String, String> env = new HashMap<>();
      if (s.get("env") instanceof Map<?, ?> e) for (Map.Entry<?, ?> kv : e.entrySet()) env.put(String.valueOf(kv.getKey()), String.valueOf(kv.getValue()));
      Env.replace(baseEnv, env);
      Hexabase.setSecretRefs(s.get("secrets"));
      String codeDir = s.get("codeDir") instanceof String c ? c : "/code";
      System.setProperty("user.dir", codeDir);
      handler = Loader.load(Loader.path(codeDir), (String) s.get("entrypoint"));
      int concurrency = Math.max(1, intOf(s.get("concurrency"), 1));
      pool = Executors.newFixedThreadPool(concurrency, r -> {
        Thread t = new Thread(r, "hks-invoke");
        t.setDaemon(true);
        return t;
      });
      spec = s;
      Map<String, Object> loaded = new LinkedHashMap<>();
      loaded.put("ms", (System.nanoTime() - started) / 1e6);
      loaded.put("concurrency", concurrency);
      send(jsonFrame(LOADED, 0, loaded));
    } catch (Throwable t) {
      Map<String, Object> e = Invocation.describe(t);
      if (t instanceof Loader.LoadException) e.put("name", "LoadError");
      loadFailure = String.valueOf(e.get("message"));
      send(jsonFrame(LOAD_ERROR, 0, e));
    }
  }

  void onInvoke(int id, byte[] body) {
    if (handler == null) {
      String message = loadFailure != null ? "the function could not be loaded: " + loadFailure : "no function is loaded in this worker";
      send(jsonFrame(ERROR, id, Map.of("name", loadFailure != null ? "LoadError" : "StateError", "message", message)));
      return;
    }
    Map<String, Object> request;
    try {
      request = parseInvoke(body);
    } catch (RuntimeException e) {
      send(jsonFrame(ERROR, id, Map.of("name", "ProtocolError", "message", "unreadable invocation: " + e.getMessage())));
      return;
    }
    logged.put(id, new AtomicInteger());
    pool.execute(() -> run(id, request));
  }

  private void run(int id, Map<String, Object> request) {
    current.set(id);
    Map<?, ?> c = request.get("ctx") instanceof Map<?, ?> m ? m : Map.of();
    long deadline = c.get("deadline") instanceof Number n ? n.longValue() : System.currentTimeMillis() + intOf(spec.get("timeoutMs"), 30000);
    Context ctx = new Context(String.valueOf(c.get("invocationId")), (String) spec.get("functionId"), (String) spec.get("label"), intOf(spec.get("version"), 0),
        intOf(spec.get("memoryMb"), 0), deadline, stdout, stderr);
    Invocation.Outcome o = Invocation.run(handler, request.get("input"), ctx, intOf(spec.get("maxResponseBytes"), 0));
    System.out.flush();
    System.err.flush();
    current.set(0);
    int count = logged.remove(id).get();
    ByteBuffer answer = o.error != null ? jsonFrame(ERROR, id, o.error) : resultFrame(id, o.response);
    if (count > LOG_LIMIT) {
      byte[] note = ("\n...[logs truncated: " + (count - LOG_LIMIT) + " more characters]\n").getBytes(StandardCharsets.UTF_8);
      byte[] b = new byte[note.length + 1];
      b[0] = 2;
      System.arraycopy(note, 0, b, 1, note.length);
      send(frame(LOG, id, b), answer);
    } else send(answer);
  }

  private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) if (ch.read(b) < 0) throw new EOFException();
  }

  void serve() {
    stdout = new PrintStream(new Captured(1), true, StandardCharsets.UTF_8);
    System.setOut(stdout);
    stderr = new PrintStream(new Captured(2), true, StandardCharsets.UTF_8);
    System.setErr(stderr);
    Map<String, Object> hello = new LinkedHashMap<>();
    hello.put("runtime", "java");
    hello.put("version", System.getProperty("java.version"));
    send(jsonFrame(HELLO, 0, hello));
    ByteBuffer head = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
    while (true) {
      try {
        head.clear();
        readFully(channel, head);
        head.flip();
        int length = head.getInt();
        int type = head.get();
        int id = head.getInt();
        if (length < 5 || length > MAX_INBOUND_FRAME) {
          new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.err), true).println("worker protocol error: frame of " + length + " bytes");
          Runtime.getRuntime().halt(70);
        }
        ByteBuffer body = ByteBuffer.allocate(length - 5);
        readFully(channel, body);
        if (type == LOAD) onLoad(body.array());
        else if (type == INVOKE) onInvoke(id, body.array());
      } catch (IOException e) {
        Runtime.getRuntime().halt(0); // the invoker is gone: nothing left to serve
      }
    }
  }

  /**
   * Before HELLO, what a function's first invocation would otherwise pay for: the shim's classes and the JDK's (JSON,
   * frames, string concatenation and lambda bootstraps, String.format, a thread pool, captured output) loaded and run
   * once through a whole invocation, on a worker whose frames go nowhere.
   */
  static void warmUp() throws IOException {
    Worker w = new Worker(null) {
      @Override
      void send(ByteBuffer... frames) {
        for (ByteBuffer f : frames) f.position(f.limit());
      }
    };
    PrintStream out = System.out, err = System.err;
    w.stderr = new PrintStream(w.new Captured(2), true, StandardCharsets.UTF_8);
    w.stdout = new PrintStream(w.new Captured(1), true, StandardCharsets.UTF_8);
    System.setOut(w.stdout);
    try {
      w.handler = (in, ctx) -> {
        Request req = Contract.request(in);
        System.out.println("warm " + req.get("warm") + " " + req.getHeader("content-type"));
        ctx.getLogger().log("warm %s %d", req.getPath(), ctx.getRemainingTimeInMillis());
        return Response.json(Map.of("ok", req.getFields(), "n", String.format("%d", 1))).header("x-warm", "1");
      };
      Map<String, Object> spec = new LinkedHashMap<>();
      spec.put("timeoutMs", 1000);
      spec.put("maxResponseBytes", 1024);
      w.spec = spec;
      w.pool = Executors.newFixedThreadPool(1);
      Map<String, Object> input = Contract.httpInput("POST", "/", new LinkedHashMap<>(), new LinkedHashMap<>(Map.of("content-type", "application/json")), "{\"warm\":true}".getBytes(StandardCharsets.UTF_8));
      byte[] invoke = Json.stringify(Map.of("input", input, "ctx", Map.of("invocationId", "warm-up", "deadline", System.currentTimeMillis() + 1000))).getBytes(StandardCharsets.UTF_8);
      for (int i = 1; i <= 2; i++) {
        int id = i;
        w.logged.put(id, new AtomicInteger());
        java.util.concurrent.Future<?> done = w.pool.submit(() -> w.run(id, Worker.parseInvoke(invoke)));
        done.get();
      }
      w.pool.shutdown();
      Invocation.run((in, c) -> {
        throw new IllegalStateException("warm");
      }, 1, null, 1024);
      Contract.dataInput(new LinkedHashMap<>(), "application/json", "{\"data\":1}".getBytes(StandardCharsets.UTF_8));
      // The path a LOAD takes: the environment replaced (with itself), a URLClassLoader reading classes (the shim's own
      // jar, into a loader of its own), reflection on them and an instance made.
      Env.replace(new HashMap<>(System.getenv()), Map.of());
      java.net.URL self = Worker.class.getProtectionDomain().getCodeSource().getLocation();
      try (java.net.URLClassLoader cl = new java.net.URLClassLoader(new java.net.URL[] {self}, Loader.classLoader(Path.of("/nonexistent")))) {
        Class<?> c = Loader.findClass("hks.response", cl, true);
        c.getMethods();
        c.getDeclaredConstructor().setAccessible(true);
      }
    } catch (ReflectiveOperationException | Loader.LoadException e) {
      throw new IOException("the worker could not warm up", e);
    } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
      throw new IOException("the worker could not warm up", e);
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> parseInvoke(byte[] body) {
    return (Map<String, Object>) Json.parse(new String(body, StandardCharsets.UTF_8));
  }

  static void run() throws IOException {
    Channel ch = System.inheritedChannel();
    if (!(ch instanceof SocketChannel sc)) {
      System.err.println("the worker has no control socket on fd 0 (System.inheritedChannel() is " + ch + "); start it with the invoker's fd 3 as fd 0");
      System.exit(70);
      return;
    }
    sc.configureBlocking(true);
    warmUp();
    new Worker(sc).serve();
  }

  static Path codeDir(String dir) {
    return Loader.path(dir);
  }
}
