package hks;

import java.io.PrintStream;

/** What a handler knows about its invocation (the names of AWS Lambda's Context where there is one). */
public final class Context {
  static final InheritableThreadLocal<Context> CURRENT = new InheritableThreadLocal<>();

  /** Writes lines tagged with the invocation id into the invocation's logs. */
  public static final class Logger {
    private final String prefix;
    private final PrintStream out;

    Logger(String invocationId, PrintStream out) {
      this.prefix = "[" + invocationId + "] ";
      this.out = out;
    }

    public void log(String message) {
      out.print(prefix + message + (message.endsWith("\n") ? "" : "\n"));
    }

    public void log(String format, Object... args) {
      log(String.format(format, args));
    }
  }

  private final String invocationId;
  private final String functionId;
  private final String functionName;
  private final int functionVersion;
  private final int memoryLimitInMB;
  private final long deadline;
  private final Logger logger;

  Context(String invocationId, String functionId, String functionName, int functionVersion, int memoryLimitInMB, long deadline, PrintStream log) {
    this.invocationId = invocationId;
    this.functionId = functionId;
    this.functionName = functionName;
    this.functionVersion = functionVersion;
    this.memoryLimitInMB = memoryLimitInMB;
    this.deadline = deadline;
    this.logger = new Logger(invocationId, log);
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
