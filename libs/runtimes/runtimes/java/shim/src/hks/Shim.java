package hks;

/**
 * The Java runtime shim. Modes:
 *   --worker  the invoker's sandboxed worker (frames on the control socket, fd 0)
 *   --http    an HTTP server on PORT (the OCI image entrypoint, for Knative)
 *   --check   says whether HKS_ENTRYPOINT names a handler in HKS_CODE_DIR the runtime can call (the build runs it; the
 *             class is loaded, not initialised: none of its code runs)
 */
public final class Shim {
  private Shim() {}

  public static void main(String[] args) throws Exception {
    String mode = args.length > 0 ? args[0] : "--http";
    switch (mode) {
      case "--worker" -> Worker.run();
      case "--http" -> HttpMode.run();
      case "--check" -> {
        String dir = System.getenv().getOrDefault("HKS_CODE_DIR", System.getProperty("user.dir"));
        try {
          Loader.load(Loader.path(dir), System.getenv("HKS_ENTRYPOINT"), false);
        } catch (Loader.LoadException e) {
          System.err.println(e.getMessage());
          System.exit(1);
        }
        System.exit(0);
      }
      default -> {
        System.err.println("unknown mode " + mode + "; use --worker, --http or --check");
        System.exit(64);
      }
    }
  }
}
