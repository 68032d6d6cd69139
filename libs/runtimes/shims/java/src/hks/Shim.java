package hks;

/**
 * The Java runtime shim. Modes:
 *   --worker  the invoker's sandboxed worker (frames on the control socket, fd 0)
 *   --http    an HTTP server on PORT (the OCI image entrypoint, for Knative)
 *   --check   loads the handler named by HKS_ENTRYPOINT from HKS_CODE_DIR and says whether it can be called (the build runs it)
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
          Loader.load(Loader.path(dir), System.getenv("HKS_ENTRYPOINT"));
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
