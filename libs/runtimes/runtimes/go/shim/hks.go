// Package hks is what a Go function imports: the request and response types of its handler and the function
// SDK (secrets, the invocation id, a logger tagging lines with it, the remaining time). The rest of the package
// is the runtime shim the builder compiles into the function's binary (Start).
//
// A handler is one of
//
//	func Handle(ctx context.Context, req hks.Request) (hks.Response, error)  // HTTP style
//	func Handle(w http.ResponseWriter, r *http.Request)                      // net/http (http.HandlerFunc)
//	func Handle(ctx context.Context, in T) (U, error)                        // data style: T and U any JSON types
//
// (the context and the error are optional: func(T) U, func(context.Context, T) error ... are accepted too).
package hks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Request is an HTTP request as a handler sees it. Invoked data style ({"data": X}), it is a POST of X as JSON.
type Request struct {
	Method  string
	Path    string
	Query   url.Values
	Headers http.Header
	// Body is the raw body (decoded from base64 when it came so).
	Body []byte
	// IsBase64Encoded says the body was binary.
	IsBase64Encoded bool
	// Data is the invocation's data as JSON when invoked data style; else nil.
	Data json.RawMessage
	// fields: the top-level fields of a JSON object body.
	fields map[string]json.RawMessage
}

// Get decodes the top-level field `name` of a JSON object body (or of the data) into v; false when it is absent.
func (r Request) Get(name string, v any) (bool, error) {
	raw, ok := r.fields[name]
	if !ok {
		return false, nil
	}
	return true, json.Unmarshal(raw, v)
}

// JSON decodes the data (data style) or the body (HTTP style) into v.
func (r Request) JSON(v any) error {
	if r.Data != nil {
		return json.Unmarshal(r.Data, v)
	}
	return json.Unmarshal(r.Body, v)
}

// Response is an HTTP response. A zero StatusCode means 200.
type Response struct {
	StatusCode int
	Headers    map[string]string
	// MultiValueHeaders holds headers with several values (Set-Cookie ...).
	MultiValueHeaders map[string][]string
	Body              []byte
}

// Text is a response with a text/plain body.
func Text(status int, body string) Response {
	return Response{StatusCode: status, Headers: map[string]string{"content-type": "text/plain; charset=utf-8"}, Body: []byte(body)}
}

// JSON is a response with v as its JSON body.
func JSON(status int, v any) (Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Response{}, err
	}
	return Response{StatusCode: status, Headers: map[string]string{"content-type": "application/json"}, Body: b}, nil
}

// Invocation describes the invocation a context belongs to.
type Invocation struct {
	ID              string
	FunctionID      string
	FunctionName    string
	FunctionVersion int
	MemoryLimitMB   int
	Deadline        time.Time
}

type invocationKey struct{}

type invocationValue struct {
	Invocation
	log *log.Logger
}

// FromContext is the invocation of a handler's context (false outside an invocation).
func FromContext(ctx context.Context) (Invocation, bool) {
	v, ok := ctx.Value(invocationKey{}).(*invocationValue)
	if !ok {
		return Invocation{}, false
	}
	return v.Invocation, true
}

// InvocationID is the id of the invocation (the one its events carry); "" outside an invocation.
func InvocationID(ctx context.Context) string {
	inv, _ := FromContext(ctx)
	return inv.ID
}

// RemainingTime is how long the invocation may still run before its timeout.
func RemainingTime(ctx context.Context) time.Duration {
	if inv, ok := FromContext(ctx); ok {
		if d := time.Until(inv.Deadline); d > 0 {
			return d
		}
		return 0
	}
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl)
	}
	return 0
}

// Logger writes lines tagged with the invocation id into the invocation's logs.
func Logger(ctx context.Context) *log.Logger {
	if v, ok := ctx.Value(invocationKey{}).(*invocationValue); ok {
		return v.log
	}
	return log.New(os.Stderr, "", 0)
}

// SecretNotFoundError says a secret is not set for the function.
type SecretNotFoundError struct{ Name string }

func (e *SecretNotFoundError) Error() string {
	return fmt.Sprintf("secret %q is not set for this function (hks secret set %s ..., then name it in the function's secrets)", e.Name, e.Name)
}

// GetSecret is the value of the function's secret `name` (secrets reach a function as its environment).
func GetSecret(ctx context.Context, name string) (string, error) {
	_ = ctx
	if v, ok := os.LookupEnv(name); ok {
		return v, nil
	}
	if v, ok := os.LookupEnv(strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); ok {
		return v, nil
	}
	return "", &SecretNotFoundError{Name: name}
}

func newInvocationContext(parent context.Context, inv Invocation, out io.Writer) context.Context {
	v := &invocationValue{Invocation: inv, log: log.New(out, "["+inv.ID+"] ", 0)}
	return context.WithValue(parent, invocationKey{}, v)
}
