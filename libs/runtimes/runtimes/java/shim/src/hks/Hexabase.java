package hks;

import java.util.Map;

/** The function SDK outside a handler's arguments: {@code Hexabase.getSecret("OPENAI_API_KEY")}. */
public final class Hexabase {
  private Hexabase() {}

  /** The value of the function's secret {@code name} (secrets reach a function as its environment). */
  public static String getSecret(String name) {
    Map<String, String> env = System.getenv();
    String v = env.get(name);
    if (v == null) v = env.get(name.replace('-', '_').toUpperCase(java.util.Locale.ROOT));
    if (v == null) throw new SecretNotFoundException(name);
    return v;
  }

  /** The invocation the calling thread works for, or null outside one. */
  public static Context currentContext() {
    return Context.CURRENT.get();
  }

  public static final class SecretNotFoundException extends RuntimeException {
    SecretNotFoundException(String name) {
      super("secret \"" + name + "\" is not set for this function (hks secret set " + name + " ..., then name it in the function's secrets)");
    }
  }
}
