package hks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The invoker's HTTP-style input (contract.js httpInput) for a JSON POST of {"name": "Alice"}.
const httpIn = `{"method":"POST","path":"/greet","query":{"a":"1","b":["x","y"]},"headers":{"content-type":"application/json","x-multi":["1","2"]},"body":"{\"name\":\"Alice\"}","isBase64Encoded":false,"name":"Alice"}`

func call(t *testing.T, fn any, in string) (response, map[string]any) {
	t.Helper()
	h, err := adapt(fn)
	if err != nil {
		t.Fatalf("adapt: %v", err)
	}
	return invoke(context.Background(), h, json.RawMessage(in), 1<<20, nil)
}

func TestRequestHandlerGetsTheHTTPRequest(t *testing.T) {
	out, failure := call(t, func(ctx context.Context, req Request) (Response, error) {
		var name string
		if ok, err := req.Get("name", &name); !ok || err != nil {
			t.Errorf("Get(name) = %v, %v", ok, err)
		}
		if req.Method != "POST" || req.Path != "/greet" || req.Query.Get("a") != "1" || len(req.Query["b"]) != 2 || req.Headers.Get("Content-Type") != "application/json" {
			t.Errorf("request = %+v", req)
		}
		return Text(201, "hi "+name), nil
	}, httpIn)
	if failure != nil || out.status != 201 || string(out.body) != "hi Alice" || out.headers["content-type"][0] != "text/plain; charset=utf-8" || out.json {
		t.Fatalf("out = %+v, %v", out, failure)
	}
}

func TestDataStyleHandlerDecodesTheDataAndAnswersJSON(t *testing.T) {
	type in struct{ Name string }
	out, failure := call(t, func(v in) (map[string]string, error) { return map[string]string{"hello": v.Name}, nil }, `{"Name":"Bob"}`)
	if failure != nil || out.status != 200 || string(out.body) != `{"hello":"Bob"}` || !out.json {
		t.Fatalf("out = %+v, %v", out, failure)
	}
	// Invoked HTTP style, the JSON body is what it decodes.
	out, _ = call(t, func(ctx context.Context, v map[string]any) (any, error) { return v["name"], nil }, httpIn)
	if string(out.body) != `"Alice"` {
		t.Fatalf("body = %s", out.body)
	}
}

func TestNetHTTPHandler(t *testing.T) {
	out, failure := call(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(202)
		_, _ = w.Write([]byte(r.Method + " " + r.URL.Path + " " + r.URL.Query().Get("a")))
	}, httpIn)
	if failure != nil || out.status != 202 || string(out.body) != "POST /greet 1" || len(out.headers["set-cookie"]) != 2 {
		t.Fatalf("out = %+v, %v", out, failure)
	}
	// Data style: a POST of the data as JSON.
	out, _ = call(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write([]byte(r.Method + " " + string(b)))
	}), `{"n":1}`)
	if string(out.body) != `POST {"n":1}` {
		t.Fatalf("body = %s", out.body)
	}
}

func TestErrorsAndPanicsFailTheInvocation(t *testing.T) {
	_, failure := call(t, func() error { return errors.New("database is on fire") }, `null`)
	if failure["name"] != "Error" || failure["message"] != "database is on fire" {
		t.Fatalf("failure = %v", failure)
	}
	_, failure = call(t, func() (int, error) { panic("oops") }, `null`)
	if failure["name"] != "panic" || failure["message"] != "oops" || !strings.Contains(failure["stack"].(string), "hks_test.go") {
		t.Fatalf("failure = %v", failure)
	}
	_, failure = call(t, func(n int) int { return n }, `"not a number"`)
	if failure["name"] != "BadInputError" || !strings.Contains(failure["message"].(string), "does not decode into the handler's int") {
		t.Fatalf("failure = %v", failure)
	}
}

func TestResponseOverItsLimit(t *testing.T) {
	h, _ := adapt(func() string { return strings.Repeat("x", 100) })
	_, failure := invoke(context.Background(), h, json.RawMessage(`null`), 50, nil)
	if failure["code"] != "RESPONSE_TOO_LARGE" || !strings.Contains(failure["message"].(string), "exceeds its limit of 50 bytes") {
		t.Fatalf("failure = %v", failure)
	}
}

func TestShapesTheRuntimeCannotCall(t *testing.T) {
	for _, fn := range []any{42, func(a, b int) {}, func() (int, int) { return 0, 0 }, func(...int) {}} {
		if _, err := adapt(fn); err == nil || !strings.Contains(err.Error(), "func(context.Context, hks.Request) (hks.Response, error)") {
			t.Errorf("adapt(%T) = %v", fn, err)
		}
	}
}

func TestTheSDK(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "s3cret")
	t.Setenv("DB_USER", "admin")
	secretRefs = []SecretRef{{Env: "OPENAI_API_KEY", Secret: "openai"}, {Env: "DB_USER", Secret: "db", Key: "user"}, {Env: "GONE", Secret: "gone"}}
	defer func() { secretRefs = nil }()
	for name, want := range map[string]string{"openai": "s3cret", "OPENAI_API_KEY": "s3cret", "db/user": "admin", "db": "admin", "DB_USER": "admin"} {
		if v, err := GetSecret(context.Background(), name); v != want || err != nil {
			t.Errorf("GetSecret(%s) = %q, %v", name, v, err)
		}
	}
	var missing *SecretNotFoundError
	if _, err := GetSecret(context.Background(), "nope"); !errors.As(err, &missing) || err.Error() != `hks: "nope" is not one of this function's secrets (config.secrets gives: openai (OPENAI_API_KEY), db/user (DB_USER), gone (GONE))` {
		t.Errorf("GetSecret(nope) = %v", err)
	}
	if _, err := GetSecret(context.Background(), "gone"); err == nil || !strings.Contains(err.Error(), "variable GONE is unset") {
		t.Errorf("GetSecret(gone) = %v", err)
	}
	var out, errOut strings.Builder
	ctx := newInvocationContext(context.Background(), Invocation{ID: "inv-1"}, &out, &errOut)
	Logger(ctx).Printf("hello %d", 1)
	Logger(ctx).Errorf("bad %s", "thing")
	if out.String() != "[inv-1] INFO hello 1\n" || errOut.String() != "[inv-1] ERROR bad thing\n" || InvocationID(ctx) != "inv-1" {
		t.Fatalf("logged %q / %q, id %q", out.String(), errOut.String(), InvocationID(ctx))
	}
}
