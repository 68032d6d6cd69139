package hks;

import java.lang.reflect.Field;
import java.util.Map;

/**
 * The process environment, set when the function loads: a prewarmed JVM started before it knew its function, and
 * System.getenv() is read-only. Needs --add-opens java.base/java.util=ALL-UNNAMED (the worker's command line has it).
 */
final class Env {
  private Env() {}

  @SuppressWarnings("unchecked")
  static void replace(Map<String, String> base, Map<String, String> fn) throws ReflectiveOperationException {
    Map<String, String> env = System.getenv();
    Field m = env.getClass().getDeclaredField("m");
    m.setAccessible(true);
    Map<String, String> writable = (Map<String, String>) m.get(env);
    writable.clear();
    writable.putAll(base);
    writable.putAll(fn);
  }
}
