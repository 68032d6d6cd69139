package hks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// styleHeader: the invoker sets it to "data" when it proxies /invoke/... to a Knative Service.
const styleHeader = "X-Hks-Invocation-Style"

const defaultLimit = 6 << 20

func intEnv(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return fallback
}

func fail(w http.ResponseWriter, status int, message string) {
	b, _ := json.Marshal(map[string]any{"statusCode": status, "error": http.StatusText(status), "message": message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serveHTTP is the entrypoint of the function's OCI image (Knative): the handler for every request on PORT.
func serveHTTP(h handler, adaptErr error) {
	if adaptErr != nil {
		fmt.Fprintf(os.Stderr, "the function could not be loaded: %v\n", adaptErr)
		os.Exit(1)
	}
	secretRefsFromEnv()
	maxRequest := intEnv("HKS_MAX_REQUEST_BYTES", defaultLimit)
	maxResponse := intEnv("HKS_MAX_RESPONSE_BYTES", defaultLimit)
	timeout := time.Duration(intEnv("HKS_TIMEOUT_MS", 30000)) * time.Millisecond
	version, _ := strconv.Atoi(os.Getenv("HKS_FUNCTION_VERSION"))
	label := os.Getenv("HKS_FUNCTION_LABEL")
	if label == "" {
		label = os.Getenv("K_SERVICE")
	}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(maxRequest)+1))
		if err != nil {
			fail(w, http.StatusBadRequest, "the request body could not be read: "+err.Error())
			return
		}
		if len(body) > maxRequest {
			fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body exceeds the function's limit of %d bytes", maxRequest))
			return
		}
		in, err := fromHTTP(r, body, r.Header.Get(styleHeader) == "data")
		if err != nil {
			fail(w, http.StatusBadRequest, err.Error())
			return
		}
		id := r.Header.Get("X-Invocation-Id")
		if id == "" {
			id = randomID()
		}
		deadline := time.Now().Add(timeout)
		inv := Invocation{ID: id, FunctionID: os.Getenv("HKS_FUNCTION_ID"), FunctionName: label, FunctionVersion: version, MemoryLimitMB: intEnv("HKS_MEMORY_MB", 0), Deadline: deadline}
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		ctx = newInvocationContext(ctx, inv, os.Stdout, os.Stderr)
		out, failure := invoke(ctx, h, nil, maxResponse, &in)
		if failure != nil {
			fmt.Fprintf(os.Stderr, "invocation %s failed: %v: %v\n", id, failure["name"], failure["message"])
			msg := fmt.Sprintf("%v: %v", failure["name"], failure["message"])
			if failure["code"] == "RESPONSE_TOO_LARGE" {
				msg = fmt.Sprint(failure["message"])
			}
			fail(w, http.StatusInternalServerError, msg)
			return
		}
		for k, v := range out.headers {
			w.Header()[http.CanonicalHeaderKey(k)] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out.body)))
		w.WriteHeader(out.status)
		_, _ = w.Write(out.body)
	})
	port := intEnv("PORT", 8080)
	host := os.Getenv("HOST")
	server := &http.Server{Addr: fmt.Sprintf("%s:%d", host, port), Handler: mux, IdleTimeout: 65 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = server.Shutdown(ctx)
	}()
	fmt.Printf("function %s listening on :%d\n", label, port)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "the function server stopped: %v\n", err)
		os.Exit(1)
	}
}
