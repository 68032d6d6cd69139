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
	log *Log
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

// Log writes lines tagged with the invocation id into the invocation's logs: "[<invocation id>] INFO text", as the
// SDK of every runtime does. Info and Debug go to stdout, Warn and Error to stderr.
type Log struct {
	id       string
	out, err io.Writer
}

func (l *Log) write(w io.Writer, level, text string) {
	id := l.id
	if id == "" {
		id = "-"
	}
	_, _ = io.WriteString(w, "["+id+"] "+level+" "+strings.TrimSuffix(text, "\n")+"\n")
}

// Debugf writes a DEBUG line.
func (l *Log) Debugf(format string, args ...any) {
	l.write(l.out, "DEBUG", fmt.Sprintf(format, args...))
}

// Infof writes an INFO line.
func (l *Log) Infof(format string, args ...any) { l.write(l.out, "INFO", fmt.Sprintf(format, args...)) }

// Warnf writes a WARN line (stderr).
func (l *Log) Warnf(format string, args ...any) { l.write(l.err, "WARN", fmt.Sprintf(format, args...)) }

// Errorf writes an ERROR line (stderr).
func (l *Log) Errorf(format string, args ...any) {
	l.write(l.err, "ERROR", fmt.Sprintf(format, args...))
}

// Printf is Infof (so a *log.Logger habit works).
func (l *Log) Printf(format string, args ...any) { l.Infof(format, args...) }

// Println is an INFO line of its arguments, spaced as fmt.Sprintln spaces them.
func (l *Log) Println(args ...any) { l.write(l.out, "INFO", fmt.Sprintln(args...)) }

// Logger is the invocation's logger (outside an invocation its lines say "[-]").
func Logger(ctx context.Context) *Log {
	if v, ok := ctx.Value(invocationKey{}).(*invocationValue); ok {
		return v.log
	}
	return &Log{out: os.Stdout, err: os.Stderr}
}

// SecretRef is one of the function's secret references (config.secrets): the variable a secret's key is given as.
type SecretRef struct {
	Env    string `json:"env"`
	Secret string `json:"secret"`
	Key    string `json:"key,omitempty"`
}

func (r SecretRef) key() string {
	if r.Key == "" {
		return "value"
	}
	return r.Key
}

// secretRefs: what LOAD said (worker mode), or HKS_SECRET_REFS (http mode, JSON).
var secretRefs []SecretRef

func secretRefsFromEnv() {
	_ = json.Unmarshal([]byte(os.Getenv("HKS_SECRET_REFS")), &secretRefs)
}

// SecretNotFoundError says the function was not given that secret.
type SecretNotFoundError struct {
	Name    string
	message string
}

func (e *SecretNotFoundError) Error() string { return e.message }

// GetSecret is the value of one of the function's secrets (config.secrets): by the secret's name ("openai-key"), by
// "name/key" for another key of it, or by the variable it is mapped to ("OPENAI_API_KEY").
func GetSecret(ctx context.Context, name string) (string, error) {
	_ = ctx
	var ref *SecretRef
	for _, match := range []func(r SecretRef) bool{
		func(r SecretRef) bool { return r.Secret == name && r.key() == "value" },
		func(r SecretRef) bool { return r.Secret+"/"+r.key() == name },
		func(r SecretRef) bool { return r.Secret == name },
		func(r SecretRef) bool { return r.Env == name },
	} {
		for i := range secretRefs {
			if ref == nil && match(secretRefs[i]) {
				ref = &secretRefs[i]
			}
		}
	}
	if ref == nil {
		var given []string
		for _, r := range secretRefs {
			k := ""
			if r.key() != "value" {
				k = "/" + r.key()
			}
			given = append(given, fmt.Sprintf("%s%s (%s)", r.Secret, k, r.Env))
		}
		list := strings.Join(given, ", ")
		if list == "" {
			list = "none"
		}
		return "", &SecretNotFoundError{Name: name, message: fmt.Sprintf("hks: %q is not one of this function's secrets (config.secrets gives: %s)", name, list)}
	}
	v, ok := os.LookupEnv(ref.Env)
	if !ok {
		return "", &SecretNotFoundError{Name: name, message: fmt.Sprintf("hks: secret %q was not delivered to this worker (variable %s is unset)", ref.Secret, ref.Env)}
	}
	return v, nil
}

func newInvocationContext(parent context.Context, inv Invocation, out, errOut io.Writer) context.Context {
	v := &invocationValue{Invocation: inv, log: &Log{id: inv.ID, out: out, err: errOut}}
	return context.WithValue(parent, invocationKey{}, v)
}
