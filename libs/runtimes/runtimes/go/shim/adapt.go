package hks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
)

// handler runs one invocation of the user's function.
type handler func(ctx context.Context, in input) (response, error)

var (
	contextType   = reflect.TypeOf((*context.Context)(nil)).Elem()
	errorType     = reflect.TypeOf((*error)(nil)).Elem()
	requestType   = reflect.TypeOf(Request{})
	responseType  = reflect.TypeOf(Response{})
	writerType    = reflect.TypeOf((*http.ResponseWriter)(nil)).Elem()
	httpReqType   = reflect.TypeOf((*http.Request)(nil))
	httpHandlerIf = reflect.TypeOf((*http.Handler)(nil)).Elem()
)

const shapes = "func(context.Context, hks.Request) (hks.Response, error), func(http.ResponseWriter, *http.Request), " +
	"an http.Handler, or func(context.Context, T) (U, error) with JSON types T and U (context and error optional)"

// adapt checks the user's handler once, at start, and returns how to call it.
func adapt(fn any) (handler, error) {
	if fn == nil {
		return nil, errors.New("no handler given")
	}
	if h, ok := fn.(http.Handler); ok {
		return httpHandler(h), nil
	}
	if h, ok := fn.(func(http.ResponseWriter, *http.Request)); ok {
		return httpHandler(http.HandlerFunc(h)), nil
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, fmt.Errorf("the handler is a %s, not a function; write one of %s", t, shapes)
	}
	if t.NumIn() == 2 && t.In(0) == writerType && t.In(1) == httpReqType && t.NumOut() == 0 {
		return httpHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v.Call([]reflect.Value{reflect.ValueOf(w), reflect.ValueOf(r)})
		})), nil
	}
	if t.IsVariadic() || t.NumIn() > 2 || t.NumOut() > 2 {
		return nil, fmt.Errorf("the handler's signature %s is not one the runtime can call; write one of %s", t, shapes)
	}
	withCtx := t.NumIn() > 0 && t.In(0) == contextType
	var in reflect.Type
	switch {
	case t.NumIn() == 2 && withCtx:
		in = t.In(1)
	case t.NumIn() == 1 && !withCtx:
		in = t.In(0)
	case t.NumIn() == 2:
		return nil, fmt.Errorf("the handler's signature %s is not one the runtime can call: the first of two parameters must be a context.Context; write one of %s", t, shapes)
	}
	withErr := t.NumOut() > 0 && t.Out(t.NumOut()-1) == errorType
	if t.NumOut() == 2 && !withErr {
		return nil, fmt.Errorf("the handler's signature %s is not one the runtime can call: the second result must be an error; write one of %s", t, shapes)
	}
	hasValue := t.NumOut() == 2 || (t.NumOut() == 1 && !withErr)
	return func(ctx context.Context, inv input) (response, error) {
		args := make([]reflect.Value, 0, 2)
		if withCtx {
			args = append(args, reflect.ValueOf(ctx))
		}
		if in != nil {
			arg, err := argument(in, inv)
			if err != nil {
				return response{}, err
			}
			args = append(args, arg)
		}
		out := v.Call(args)
		if withErr {
			if e := out[len(out)-1]; !e.IsNil() {
				return response{}, e.Interface().(error)
			}
		}
		if !hasValue {
			return fromValue(nil)
		}
		return result(out[0])
	}, nil
}

// BadInputError: the invocation's data does not decode into the handler's parameter type.
type BadInputError struct{ err error }

func (e *BadInputError) Error() string { return e.err.Error() }
func (e *BadInputError) Unwrap() error { return e.err }

func argument(t reflect.Type, inv input) (reflect.Value, error) {
	switch t {
	case requestType:
		return reflect.ValueOf(inv.request), nil
	case reflect.PointerTo(requestType):
		r := inv.request
		return reflect.ValueOf(&r), nil
	}
	p := reflect.New(t)
	if err := json.Unmarshal(inv.data, p.Interface()); err != nil {
		return reflect.Value{}, &BadInputError{fmt.Errorf("the input does not decode into the handler's %s: %v", t, err)}
	}
	return p.Elem(), nil
}

func result(v reflect.Value) (response, error) {
	// A result declared as an interface (any, error ...) is judged by what it holds.
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return fromValue(nil)
		}
		v = v.Elem()
	}
	switch v.Type() {
	case responseType:
		return fromResponse(v.Interface().(Response)), nil
	case reflect.PointerTo(responseType):
		if v.IsNil() {
			return fromValue(nil)
		}
		return fromResponse(*v.Interface().(*Response)), nil
	}
	return fromValue(v.Interface())
}

// httpHandler runs a net/http handler on a request made from the input, recording what it writes.
func httpHandler(h http.Handler) handler {
	return func(ctx context.Context, inv input) (response, error) {
		r := inv.request
		target := r.Path
		if target == "" {
			target = "/"
		}
		if len(r.Query) > 0 {
			target += "?" + r.Query.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, target, bytes.NewReader(r.Body))
		if err != nil {
			return response{}, fmt.Errorf("the request cannot be given to an http handler: %v", err)
		}
		req.Header = r.Headers.Clone()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Host = req.Header.Get("Host")
		req.RequestURI = target
		req.ContentLength = int64(len(r.Body))
		if u, err := url.ParseRequestURI(target); err == nil {
			req.URL = u
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, req)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		out := response{status: rec.status, headers: map[string][]string{}, body: rec.body.Bytes()}
		for k, v := range rec.header {
			if lk := strings.ToLower(k); !hopByHop[lk] {
				out.headers[lk] = v
			}
		}
		if _, ok := out.headers["content-type"]; !ok && len(out.body) > 0 {
			out.headers["content-type"] = []string{http.DetectContentType(out.body)}
		}
		return out, nil
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// errorName is how an error is named in the FAILURE event: its type without the package (PaymentDeclined), "Error"
// for errors.New's and fmt.Errorf's, as the other runtimes name a plain error.
func errorName(err error) string {
	t := strings.TrimPrefix(fmt.Sprintf("%T", err), "*")
	switch t {
	case "errors.errorString", "fmt.wrapError", "fmt.wrapErrors":
		return "Error"
	}
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return t
}

// describe: an error returned by a handler. Go errors carry no stack: the stack says what and where it was named.
func describe(err error) map[string]any {
	name := errorName(err)
	out := map[string]any{"name": name, "message": err.Error(), "stack": name + ": " + err.Error()}
	// An error with a code (interface{ Code() string }) keeps it, as a Node error's code is kept.
	if c, ok := err.(interface{ Code() string }); ok {
		out["code"] = c.Code()
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
