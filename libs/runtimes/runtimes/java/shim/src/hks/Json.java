package hks;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * JSON without dependencies: parse gives Map (LinkedHashMap), List, String, Long or Double (BigInteger/BigDecimal when
 * too large), Boolean and null; stringify takes those, arrays, records, enums and beans (public getters).
 */
public final class Json {
  private Json() {}

  public static final class JsonException extends RuntimeException {
    JsonException(String message) {
      super(message);
    }
  }

  public static Object parse(String text) {
    Parser p = new Parser(text);
    p.ws();
    Object v = p.value();
    p.ws();
    if (p.i != text.length()) throw p.error("unexpected text after the value");
    return v;
  }

  public static String stringify(Object value) {
    StringBuilder sb = new StringBuilder();
    write(sb, value, 0);
    return sb.toString();
  }

  private static void write(StringBuilder sb, Object v, int depth) {
    if (depth > 200) throw new JsonException("the value is nested too deeply (a cycle?)");
    if (v == null) sb.append("null");
    else if (v instanceof String s) quote(sb, s);
    else if (v instanceof Boolean) sb.append(v);
    else if (v instanceof Double d) {
      if (d.isNaN() || d.isInfinite()) sb.append("null");
      else if (d == Math.rint(d) && Math.abs(d) < 1e15) sb.append(d.longValue());
      else sb.append(d);
    } else if (v instanceof Float f) write(sb, f.doubleValue(), depth);
    else if (v instanceof Number) sb.append(v);
    else if (v instanceof Character c) quote(sb, c.toString());
    else if (v instanceof Enum<?> e) quote(sb, e.name());
    else if (v instanceof Optional<?> o) write(sb, o.orElse(null), depth);
    else if (v instanceof Map<?, ?> m) {
      sb.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) sb.append(',');
        first = false;
        quote(sb, String.valueOf(e.getKey()));
        sb.append(':');
        write(sb, e.getValue(), depth + 1);
      }
      sb.append('}');
    } else if (v instanceof Collection<?> c) {
      sb.append('[');
      boolean first = true;
      for (Object o : c) {
        if (!first) sb.append(',');
        first = false;
        write(sb, o, depth + 1);
      }
      sb.append(']');
    } else if (v.getClass().isArray()) {
      int n = java.lang.reflect.Array.getLength(v);
      List<Object> list = new ArrayList<>(n);
      for (int i = 0; i < n; i++) list.add(java.lang.reflect.Array.get(v, i));
      write(sb, list, depth);
    } else write(sb, beanToMap(v), depth);
  }

  /** A record's components, or a bean's public getters and public fields. */
  private static Map<String, Object> beanToMap(Object v) {
    Map<String, Object> out = new LinkedHashMap<>();
    Class<?> c = v.getClass();
    try {
      if (c.isRecord()) {
        for (RecordComponent rc : c.getRecordComponents()) {
          Method m = rc.getAccessor();
          m.setAccessible(true);
          out.put(rc.getName(), m.invoke(v));
        }
        return out;
      }
      for (Method m : c.getMethods()) {
        if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() == Object.class) continue;
        String n = m.getName();
        String name = null;
        if (n.startsWith("get") && n.length() > 3) name = n.substring(3);
        else if (n.startsWith("is") && n.length() > 2 && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) name = n.substring(2);
        if (name == null) continue;
        out.put(Character.toLowerCase(name.charAt(0)) + name.substring(1), m.invoke(v));
      }
      for (java.lang.reflect.Field f : c.getFields()) {
        if (!Modifier.isStatic(f.getModifiers())) out.putIfAbsent(f.getName(), f.get(v));
      }
    } catch (ReflectiveOperationException e) {
      throw new JsonException("a " + c.getName() + " cannot be turned into JSON: " + e);
    }
    return out;
  }

  static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      switch (ch) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        default -> {
          if (ch < 0x20 || ch == 0x2028 || ch == 0x2029) sb.append(String.format("\\u%04x", (int) ch));
          else sb.append(ch);
        }
      }
    }
    sb.append('"');
  }

  private static final class Parser {
    final String s;
    int i;

    Parser(String s) {
      this.s = s;
    }

    JsonException error(String what) {
      return new JsonException(what + " at position " + i);
    }

    void ws() {
      while (i < s.length()) {
        char c = s.charAt(i);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') i++;
        else break;
      }
    }

    Object value() {
      if (i >= s.length()) throw error("unexpected end of JSON");
      char c = s.charAt(i);
      switch (c) {
        case '{':
          return object();
        case '[':
          return array();
        case '"':
          return string();
        case 't':
          return literal("true", Boolean.TRUE);
        case 'f':
          return literal("false", Boolean.FALSE);
        case 'n':
          return literal("null", null);
        default:
          if (c == '-' || (c >= '0' && c <= '9')) return number();
          throw error("unexpected character '" + c + "'");
      }
    }

    Object literal(String word, Object v) {
      if (!s.startsWith(word, i)) throw error("unexpected text");
      i += word.length();
      return v;
    }

    Map<String, Object> object() {
      Map<String, Object> m = new LinkedHashMap<>();
      i++;
      ws();
      if (i < s.length() && s.charAt(i) == '}') {
        i++;
        return m;
      }
      while (true) {
        ws();
        if (i >= s.length() || s.charAt(i) != '"') throw error("expected a string key");
        String k = string();
        ws();
        if (i >= s.length() || s.charAt(i) != ':') throw error("expected ':'");
        i++;
        ws();
        m.put(k, value());
        ws();
        if (i >= s.length()) throw error("unexpected end of JSON");
        char c = s.charAt(i++);
        if (c == '}') return m;
        if (c != ',') throw error("expected ',' or '}'");
      }
    }

    List<Object> array() {
      List<Object> l = new ArrayList<>();
      i++;
      ws();
      if (i < s.length() && s.charAt(i) == ']') {
        i++;
        return l;
      }
      while (true) {
        ws();
        l.add(value());
        ws();
        if (i >= s.length()) throw error("unexpected end of JSON");
        char c = s.charAt(i++);
        if (c == ']') return l;
        if (c != ',') throw error("expected ',' or ']'");
      }
    }

    String string() {
      i++;
      StringBuilder sb = null;
      int start = i;
      while (true) {
        if (i >= s.length()) throw error("unterminated string");
        char c = s.charAt(i);
        if (c == '"') {
          String out = sb == null ? s.substring(start, i) : sb.append(s, start, i).toString();
          i++;
          return out;
        }
        if (c == '\\') {
          if (sb == null) sb = new StringBuilder();
          sb.append(s, start, i);
          if (++i >= s.length()) throw error("unterminated string");
          char e = s.charAt(i++);
          switch (e) {
            case '"', '\\', '/' -> sb.append(e);
            case 'n' -> sb.append('\n');
            case 'r' -> sb.append('\r');
            case 't' -> sb.append('\t');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'u' -> {
              if (i + 4 > s.length()) throw error("bad \\u escape");
              sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
              i += 4;
            }
            default -> throw error("bad escape \\" + e);
          }
          start = i;
        } else {
          if (c < 0x20) throw error("control character in a string");
          i++;
        }
      }
    }

    Object number() {
      int start = i;
      if (s.charAt(i) == '-') i++;
      boolean fraction = false;
      while (i < s.length()) {
        char c = s.charAt(i);
        if (c >= '0' && c <= '9') i++;
        else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
          fraction = true;
          i++;
        } else break;
      }
      String t = s.substring(start, i);
      try {
        if (!fraction) {
          if (t.length() < 19) return Long.parseLong(t);
          BigInteger b = new BigInteger(t);
          return b.bitLength() < 64 ? (Object) b.longValue() : b;
        }
        double d = Double.parseDouble(t);
        return Double.isInfinite(d) ? new BigDecimal(t) : d;
      } catch (NumberFormatException e) {
        throw error("bad number " + t);
      }
    }
  }
}
