package hks;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/** Runs one invocation: the handler with its input and context, its result turned into a response or an error. */
final class Invocation {
  private Invocation() {}

  static final class Outcome {
    Contract.Out response;
    Map<String, Object> error;
  }

  static Map<String, Object> describe(Throwable t) {
    Map<String, Object> e = new LinkedHashMap<>();
    e.put("name", t.getClass().getSimpleName().isEmpty() ? t.getClass().getName() : t.getClass().getSimpleName());
    e.put("message", t.getMessage() == null ? t.getClass().getName() : t.getMessage());
    StringWriter sw = new StringWriter();
    t.printStackTrace(new PrintWriter(sw));
    e.put("stack", sw.toString());
    return e;
  }

  static Outcome run(Loader.Call call, Object input, Context ctx, int maxResponseBytes) {
    Outcome o = new Outcome();
    Context previous = Context.CURRENT.get();
    Context.CURRENT.set(ctx);
    try {
      o.response = Contract.toResponse(call.call(input, ctx));
    } catch (Throwable t) { // an Error in a handler (StackOverflowError ...) fails the invocation, not the worker
      o.error = describe(t);
      return o;
    } finally {
      Context.CURRENT.set(previous);
    }
    if (maxResponseBytes > 0 && o.response.body.length > maxResponseBytes) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("name", "ResponseTooLarge");
      e.put("code", "RESPONSE_TOO_LARGE");
      e.put("message", "the function's response of " + o.response.body.length + " bytes exceeds its limit of " + maxResponseBytes + " bytes (resources.maxResponseBytes)");
      o.error = e;
      o.response = null;
    }
    return o;
  }
}
