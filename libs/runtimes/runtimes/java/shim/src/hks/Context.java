package hks;

import java.io.PrintStream;

/** What a handler knows about its invocation (the names of AWS Lambda's Context where there is one). */
public final class Context {
  static final InheritableThreadLocal<Context> CURRENT = new InheritableThreadLocal<>();

  /**
   * Writes lines tagged with the invocation id into the invocation's logs, "[<invocation id>] INFO text", as the SDK of
   * every runtime does: info and debug to stdout, warn and error to stderr. {@code log} is info (AWS Lambda's name).
   */
  public static final class Logger {
    private final String id;
    private final PrintStream out;
    private final PrintStream err;

    Logger(String invocationId, PrintStream out, PrintStream err) {
      this.id = invocationId == null ? "-" : invocationId;
      this.out = out;
      this.err = err;
    }

    private void write(PrintStream s, String level, String text) {
      s.print("[" + id + "] " + level + " " + (text.endsWith("\n") ? text.substring(0, text.length() - 1) : text) + "\n");
    }

    public void log(String message) {
      info(message);
    }

    public void log(String format, Object... args) {
      info(String.format(format, args));
    }

    public void debug(String message) {
      write(out, "DEBUG", message);
    }

    public void info(String message) {
      write(out, "INFO", message);
    }

    public void warn(String message) {
      write(err, "WARN", message);
    }

    public void error(String message) {
      write(err, "ERROR", message);
    }
  }

  private final String invocationId;
  private final String functionId;
  private final String functionName;
  private final int functionVersion;
  private final int memoryLimitInMB;
  private final long deadline;
  private final Logger logger;

  Context(String invocationId, String functionId, String functionName, int functionVersion, int memoryLimitInMB, long deadline, PrintStream out, PrintStream err) {
    this.invocationId = invocationId;
    this.functionId = functionId;
    this.functionName = functionName;
    this.functionVersion = functionVersion;
    this.memoryLimitInMB = memoryLimitInMB;
    this.deadline = deadline;
    this.logger = new Logger(invocationId, out, err);
  }

  public String getInvocationId() {
    return invocationId;
  }

  /** The same as getInvocationId (AWS Lambda's name for it). */
  public String getAwsRequestId() {
    return invocationId;
  }

  public String getFunctionId() {
    return functionId;
  }

  public String getFunctionName() {
    return functionName;
  }

  public int getFunctionVersion() {
    return functionVersion;
  }

  public int getMemoryLimitInMB() {
    return memoryLimitInMB;
  }

  /** When the invocation times out, in ms since the epoch. */
  public long getDeadline() {
    return deadline;
  }

  public long getRemainingTimeInMillis() {
    return Math.max(0, deadline - System.currentTimeMillis());
  }

  public Logger getLogger() {
    return logger;
  }

  /** The function's secret {@code name}; see {@link Hexabase#getSecret}. */
  public String getSecret(String name) {
    return Hexabase.getSecret(name);
  }
}
