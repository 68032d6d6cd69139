package hks;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/** The function SDK outside a handler's arguments: {@code Hexabase.getSecret("OPENAI_API_KEY")}. */
public final class Hexabase {
  private Hexabase() {}

  /** The function's secret references (config.secrets): {env, secret, key}; set on LOAD, or from HKS_SECRET_REFS. */
  static volatile List<Map<String, String>> secretRefs = List.of();

  @SuppressWarnings("unchecked")
  static void setSecretRefs(Object refs) {
    List<Map<String, String>> out = new ArrayList<>();
    if (refs instanceof List<?> l) {
      for (Object o : l) {
        if (o instanceof Map<?, ?> m && m.get("env") instanceof String && m.get("secret") instanceof String) out.add((Map<String, String>) m);
      }
    }
    secretRefs = out;
  }

  private static String keyOf(Map<String, String> r) {
    String k = r.get("key");
    return k != null && !k.isEmpty() ? k : "value";
  }

  /**
   * The value of one of the function's secrets (config.secrets): by the secret's name ("openai-key"), by "name/key" for
   * another key of it, or by the variable it is mapped to ("OPENAI_API_KEY").
   */
  public static String getSecret(String name) {
    List<Map<String, String>> refs = secretRefs;
    List<Predicate<Map<String, String>>> matches = List.of(
        r -> r.get("secret").equals(name) && keyOf(r).equals("value"),
        r -> (r.get("secret") + "/" + keyOf(r)).equals(name),
        r -> r.get("secret").equals(name),
        r -> r.get("env").equals(name));
    Map<String, String> ref = null;
    for (Predicate<Map<String, String>> m : matches) {
      ref = refs.stream().filter(m).findFirst().orElse(null);
      if (ref != null) break;
    }
    if (ref == null) {
      StringBuilder given = new StringBuilder();
      for (Map<String, String> r : refs) {
        if (given.length() > 0) given.append(", ");
        given.append(r.get("secret")).append(keyOf(r).equals("value") ? "" : "/" + keyOf(r)).append(" (").append(r.get("env")).append(')');
      }
      throw new SecretNotFoundException("hks: \"" + name + "\" is not one of this function's secrets (config.secrets gives: " + (given.length() == 0 ? "none" : given) + ")");
    }
    String v = System.getenv(ref.get("env"));
    if (v == null) throw new SecretNotFoundException("hks: secret \"" + ref.get("secret") + "\" was not delivered to this worker (variable " + ref.get("env") + " is unset)");
    return v;
  }

  /** The invocation the calling thread works for, or null outside one. */
  public static Context currentContext() {
    return Context.CURRENT.get();
  }

  public static final class SecretNotFoundException extends RuntimeException {
    SecretNotFoundException(String message) {
      super(message);
    }
  }
}
