package hks;

/**
 * A data-style handler in the shape of AWS Lambda's RequestHandler: the invocation's input as JSON values (Map, List,
 * String, Long, Double, Boolean or null; an HTTP request is a Map with method, path, query, headers, body) in, any
 * value out (a Map with statusCode/headers/body is an HTTP response, anything else a 200 JSON answer).
 */
@FunctionalInterface
public interface RequestHandler<I, O> {
  O handleRequest(I input, Context context) throws Exception;
}
