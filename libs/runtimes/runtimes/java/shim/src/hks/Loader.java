package hks;

import java.io.File;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Finds a function's handler from its entry point "<class>.<method>" ("<class>.*": the class's hks.Handler,
 * hks.RequestHandler, Function or BiFunction implementation). Classes come from the bundle's classes/ (what javac made)
 * and the jars in lib/, through their own URLClassLoader (the shim's classes are its parent).
 */
final class Loader {
  private Loader() {}

  /** One invocation of the handler: input (the invoker's JSON value) and context in, the return value out. */
  interface Call {
    Object call(Object input, Context ctx) throws Exception;
  }

  static final class LoadException extends Exception {
    LoadException(String message) {
      super(message);
    }

    LoadException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  static ClassLoader classLoader(Path codeDir) throws LoadException {
    List<URL> urls = new ArrayList<>();
    try {
      Path classes = codeDir.resolve("classes");
      urls.add((Files.isDirectory(classes) ? classes : codeDir).toUri().toURL());
      Path lib = codeDir.resolve("lib");
      if (Files.isDirectory(lib)) {
        try (var jars = Files.list(lib)) {
          for (Path jar : (Iterable<Path>) jars.filter(p -> p.toString().endsWith(".jar")).sorted()::iterator) urls.add(jar.toUri().toURL());
        }
      }
    } catch (IOException e) {
      throw new LoadException("cannot read the function's code: " + e.getMessage(), e);
    }
    return new URLClassLoader(urls.toArray(new URL[0]), Loader.class.getClassLoader());
  }

  /** The class an entry point's module names: as written, else capitalised ("handler" -> Handler, the file Handler.java). */
  static Class<?> findClass(String className, ClassLoader cl, boolean initialize) throws ClassNotFoundException {
    try {
      return Class.forName(className, initialize, cl);
    } catch (ClassNotFoundException e) {
      int dot = className.lastIndexOf('.');
      String simple = className.substring(dot + 1);
      if (simple.isEmpty() || Character.isUpperCase(simple.charAt(0))) throw e;
      return Class.forName(className.substring(0, dot + 1) + Character.toUpperCase(simple.charAt(0)) + simple.substring(1), initialize, cl);
    }
  }

  static Call load(Path codeDir, String entrypoint) throws LoadException {
    return load(codeDir, entrypoint, true);
  }

  /**
   * The handler of an entry point. With {@code instantiate} false (the build's check) nothing of the function runs: its
   * class is loaded but not initialised, and no instance is made.
   */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Call load(Path codeDir, String entrypoint, boolean instantiate) throws LoadException {
    int dot = entrypoint == null ? -1 : entrypoint.lastIndexOf('.');
    if (dot <= 0 || dot == entrypoint.length() - 1)
      throw new LoadException("entry point \"" + entrypoint + "\" must look like \"<class>.<method>\", e.g. \"Handler.handle\" or \"com.example.Handler.*\"");
    String className = entrypoint.substring(0, dot).replace('/', '.');
    String method = entrypoint.substring(dot + 1);
    ClassLoader cl = classLoader(codeDir);
    Class<?> c;
    try {
      c = findClass(className, cl, instantiate);
    } catch (ClassNotFoundException e) {
      throw new LoadException("cannot find the class " + className + " in the function's code (classes/ and lib/*.jar)");
    } catch (LinkageError | RuntimeException e) {
      throw new LoadException("loading the class " + className + " failed: " + e, e);
    }
    if (instantiate) Thread.currentThread().setContextClassLoader(cl);
    boolean auto = method.equals("*");
    if (auto || method.equals("handle") || method.equals("handleRequest") || method.equals("apply")) {
      if (!instantiate && (Handler.class.isAssignableFrom(c) || RequestHandler.class.isAssignableFrom(c) || Function.class.isAssignableFrom(c) || BiFunction.class.isAssignableFrom(c))) {
        needsConstructor(c);
        return null;
      }
      if (Handler.class.isAssignableFrom(c) && (auto || method.equals("handle"))) {
        Handler h = (Handler) instance(c);
        return (in, ctx) -> h.handle(Contract.request(in), ctx);
      }
      if (RequestHandler.class.isAssignableFrom(c) && (auto || method.equals("handleRequest"))) {
        RequestHandler h = (RequestHandler) instance(c);
        return h::handleRequest;
      }
      if (BiFunction.class.isAssignableFrom(c) && (auto || method.equals("apply"))) {
        BiFunction h = (BiFunction) instance(c);
        return h::apply;
      }
      if (Function.class.isAssignableFrom(c) && (auto || method.equals("apply"))) {
        Function h = (Function) instance(c);
        return (in, ctx) -> h.apply(in);
      }
      if (auto) {
        throw new LoadException(className + " implements none of hks.Handler, hks.RequestHandler, java.util.function.Function or BiFunction; "
            + "implement one, or name a method in the entry point (\"" + className + ".handle\")");
      }
    }
    return reflective(c, method, instantiate);
  }

  /** A public method by name: (Request[, Context]), (Map/Object[, Context]) or (); static or on a new instance. */
  private static Call reflective(Class<?> c, String name, boolean instantiate) throws LoadException {
    Method found = null;
    for (Method m : c.getMethods()) {
      if (!m.getName().equals(name) || m.getParameterCount() > 2) continue;
      Class<?>[] p = m.getParameterTypes();
      if (p.length == 2 && p[1] != Context.class) continue;
      if (p.length >= 1 && !(p[0] == Request.class || p[0] == Context.class && p.length == 1 || p[0].isAssignableFrom(Map.class) || p[0] == Object.class)) continue;
      found = m;
      break;
    }
    if (found == null) {
      throw new LoadException(c.getName() + " has no public method " + name + "(Request, Context), " + name + "(Request), " + name + "(Map, Context) or " + name + "(Map)");
    }
    Method m = found;
    if (!instantiate) {
      if (!Modifier.isStatic(m.getModifiers())) needsConstructor(c);
      return null;
    }
    Object target = Modifier.isStatic(m.getModifiers()) ? null : instance(c);
    Class<?>[] p = m.getParameterTypes();
    return (in, ctx) -> {
      Object[] args = new Object[p.length];
      for (int i = 0; i < p.length; i++) args[i] = p[i] == Context.class ? ctx : p[i] == Request.class ? Contract.request(in) : in;
      try {
        return m.invoke(target, args);
      } catch (InvocationTargetException e) {
        Throwable t = e.getCause();
        if (t instanceof Exception ex) throw ex;
        if (t instanceof Error er) throw er;
        throw e;
      }
    };
  }

  private static void needsConstructor(Class<?> c) throws LoadException {
    if (Modifier.isAbstract(c.getModifiers()) || c.isInterface()) throw new LoadException(c.getName() + " is abstract: the runtime needs a class it can create");
    try {
      c.getDeclaredConstructor();
    } catch (NoSuchMethodException e) {
      throw new LoadException(c.getName() + " needs a constructor without parameters");
    }
  }

  private static Object instance(Class<?> c) throws LoadException {
    try {
      var ctor = c.getDeclaredConstructor();
      ctor.setAccessible(true);
      return ctor.newInstance();
    } catch (NoSuchMethodException e) {
      throw new LoadException(c.getName() + " needs a constructor without parameters");
    } catch (InvocationTargetException e) {
      throw new LoadException("the constructor of " + c.getName() + " threw " + e.getCause(), e.getCause());
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw new LoadException("cannot create a " + c.getName() + ": " + e, e);
    }
  }

  /** The entry point from the bundle's .hks/manifest.json, when the caller names none. */
  static String manifestEntrypoint(Path codeDir) {
    try {
      Object m = Json.parse(Files.readString(codeDir.resolve(".hks").resolve("manifest.json")));
      return m instanceof Map<?, ?> map && map.get("entrypoint") instanceof String s ? s : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  static Path path(String dir) {
    return new File(dir).toPath().toAbsolutePath().normalize();
  }
}
