package hks;

/**
 * An HTTP-style handler: the request in, a {@link Response} (or any value, which becomes a 200 JSON answer) out.
 *
 * <pre>
 * public class Handler implements hks.Handler {
 *   public Response handle(Request req, Context ctx) {
 *     return Response.ok("hello " + req.get("name"));
 *   }
 * }
 * </pre>
 */
@FunctionalInterface
public interface Handler {
  Object handle(Request request, Context context) throws Exception;
}
