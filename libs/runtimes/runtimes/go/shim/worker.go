package hks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	controlFD = 3
	// logLimit: per invocation, output beyond this is counted but not sent (the invoker keeps 64 KiB anyway).
	logLimit = 64 << 10
)

type loadSpec struct {
	Entrypoint       string            `json:"entrypoint"`
	Env              map[string]string `json:"env"`
	CodeDir          string            `json:"codeDir"`
	FunctionID       string            `json:"functionId"`
	Label            string            `json:"label"`
	Version          int               `json:"version"`
	MemoryMb         int               `json:"memoryMb"`
	TimeoutMs        int               `json:"timeoutMs"`
	MaxResponseBytes int               `json:"maxResponseBytes"`
	Concurrency      int               `json:"concurrency"`
	Secrets          []SecretRef       `json:"secrets"`
}

type invokeRequest struct {
	Input json.RawMessage `json:"input"`
	Ctx   struct {
		InvocationID string   `json:"invocationId"`
		Deadline     *float64 `json:"deadline"`
	} `json:"ctx"`
}

type worker struct {
	conn    net.Conn
	sendMu  sync.Mutex
	h       handler
	adaptEr error
	spec    *loadSpec
	loadErr map[string]any

	mu       sync.Mutex
	inflight map[uint32]int // invocation -> bytes logged so far
}

func (w *worker) send(b []byte) {
	w.sendMu.Lock()
	defer w.sendMu.Unlock()
	if _, err := w.conn.Write(b); err != nil {
		os.Exit(0) // the invoker is gone
	}
}

// log sends text as invocation id's output (stream 1 stdout, 2 stderr), within its allowance.
func (w *worker) log(id uint32, stream byte, text []byte) {
	if id != 0 {
		w.mu.Lock()
		sent, ok := w.inflight[id]
		if ok {
			w.inflight[id] = sent + len(text)
		}
		w.mu.Unlock()
		if !ok || sent >= logLimit {
			return
		}
		if sent+len(text) > logLimit {
			text = text[:logLimit-sent]
		}
	}
	w.send(encodeLogFrame(id, stream, text))
}

// soleInvocation is the invocation output not written through hks.Logger belongs to: the only one in flight, else 0.
func (w *worker) soleInvocation() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.inflight) != 1 {
		return 0
	}
	for id := range w.inflight {
		return id
	}
	return 0
}

type invocationWriter struct {
	w      *worker
	id     uint32
	stream byte
}

func (iw invocationWriter) Write(b []byte) (int, error) {
	iw.w.log(iw.id, iw.stream, append([]byte(nil), b...))
	return len(b), nil
}

func (w *worker) onLoad(body []byte) {
	if w.spec != nil {
		w.send(encodeJSONFrame(frameLoadError, 0, map[string]string{"name": "LoadError", "message": "this worker already runs a function"}))
		return
	}
	started := time.Now()
	var spec loadSpec
	if err := json.Unmarshal(body, &spec); err != nil {
		w.loadErr = map[string]any{"name": "LoadError", "message": "unreadable load request: " + err.Error()}
		w.send(encodeJSONFrame(frameLoadError, 0, w.loadErr))
		return
	}
	if w.adaptEr != nil {
		w.loadErr = map[string]any{"name": "LoadError", "message": w.adaptEr.Error()}
		w.send(encodeJSONFrame(frameLoadError, 0, w.loadErr))
		return
	}
	base := baseEnv
	os.Clearenv()
	for _, kv := range base {
		if i := strings.IndexByte(kv, '='); i > 0 {
			os.Setenv(kv[:i], kv[i+1:])
		}
	}
	for k, v := range spec.Env {
		os.Setenv(k, v)
	}
	if spec.CodeDir == "" {
		spec.CodeDir = "/code"
	}
	_ = os.Chdir(spec.CodeDir)
	if spec.Concurrency <= 0 {
		spec.Concurrency = 1
	}
	secretRefs = spec.Secrets
	w.spec = &spec
	w.send(encodeJSONFrame(frameLoaded, 0, map[string]any{"ms": float64(time.Since(started).Microseconds()) / 1000, "concurrency": spec.Concurrency}))
}

func (w *worker) onInvoke(id uint32, body []byte) {
	if w.spec == nil {
		e := map[string]any{"name": "StateError", "message": "no function is loaded in this worker"}
		if w.loadErr != nil {
			e = map[string]any{"name": "LoadError", "message": fmt.Sprintf("the function could not be loaded: %v", w.loadErr["message"])}
		}
		w.send(encodeJSONFrame(frameError, id, e))
		return
	}
	var req invokeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		w.send(encodeJSONFrame(frameError, id, map[string]string{"name": "ProtocolError", "message": "unreadable invocation: " + err.Error()}))
		return
	}
	w.mu.Lock()
	w.inflight[id] = 0
	w.mu.Unlock()
	go w.run(id, req)
}

func (w *worker) run(id uint32, req invokeRequest) {
	spec := w.spec
	deadline := time.Now().Add(time.Duration(timeoutOr(spec.TimeoutMs)) * time.Millisecond)
	if req.Ctx.Deadline != nil {
		deadline = time.UnixMilli(int64(*req.Ctx.Deadline))
	}
	inv := Invocation{ID: req.Ctx.InvocationID, FunctionID: spec.FunctionID, FunctionName: spec.Label, FunctionVersion: spec.Version, MemoryLimitMB: spec.MemoryMb, Deadline: deadline}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	ctx = newInvocationContext(ctx, inv, invocationWriter{w: w, id: id, stream: 1}, invocationWriter{w: w, id: id, stream: 2})
	out, failure := invoke(ctx, w.h, req.Input, spec.MaxResponseBytes, nil)
	cancel()
	flushCapture()
	w.mu.Lock()
	logged := w.inflight[id]
	delete(w.inflight, id)
	w.mu.Unlock()
	var frames []byte
	if logged > logLimit {
		frames = encodeLogFrame(id, 2, []byte(fmt.Sprintf("\n...[logs truncated: %d more characters]\n", logged-logLimit)))
	}
	if failure != nil {
		frames = append(frames, encodeJSONFrame(frameError, id, failure)...)
	} else {
		frames = append(frames, encodeResultFrame(id, resultMeta{StatusCode: out.status, Headers: out.headers, JSON: out.json}, out.body)...)
	}
	w.send(frames)
}

func timeoutOr(ms int) int {
	if ms > 0 {
		return ms
	}
	return 30000
}

// invoke runs the handler once: its response, or what went wrong (a panic fails the invocation, not the worker).
func invoke(ctx context.Context, h handler, raw json.RawMessage, maxResponseBytes int, given *input) (out response, failure map[string]any) {
	defer func() {
		if p := recover(); p != nil {
			failure = map[string]any{"name": "panic", "message": fmt.Sprint(p), "stack": string(debug.Stack())}
		}
	}()
	var in input
	if given != nil {
		in = *given
	} else {
		var err error
		if in, err = decodeInput(raw); err != nil {
			return response{}, map[string]any{"name": "BadInput", "message": err.Error()}
		}
	}
	out, err := h(ctx, in)
	if err != nil {
		return response{}, describe(err)
	}
	if maxResponseBytes > 0 && len(out.body) > maxResponseBytes {
		return response{}, map[string]any{
			"name": "ResponseTooLarge", "code": "RESPONSE_TOO_LARGE",
			"message": fmt.Sprintf("the function's response of %d bytes exceeds its limit of %d bytes (resources.maxResponseBytes)", len(out.body), maxResponseBytes),
		}
	}
	return out, nil
}

var baseEnv []string

// closeLeakedFds closes descriptors inherited by accident (without O_CLOEXEC); 0-2 and the control socket stay.
func closeLeakedFds() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= controlFD {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, "flags:") {
				flags, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "flags:")), 8, 64)
				if err == nil && flags&syscall.O_CLOEXEC == 0 {
					syscall.Close(fd)
				}
			}
		}
	}
}

func runWorker(h handler, adaptErr error) {
	baseEnv = os.Environ()
	spec, preloadedSpec := preloaded()
	closeLeakedFds()
	f := os.NewFile(controlFD, "control")
	conn, err := net.FileConn(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "the worker has no control socket on fd %d: %v\n", controlFD, err)
		os.Exit(70)
	}
	f.Close()
	w := &worker{conn: conn, h: h, adaptEr: adaptErr, inflight: map[uint32]int{}}
	startCapture(w)
	if preloadedSpec {
		// Started by the prewarmed launcher, which said HELLO and read LOAD already.
		w.onLoad(spec)
	} else {
		w.send(encodeJSONFrame(frameHello, 0, map[string]string{"runtime": "go", "version": strings.TrimPrefix(runtime.Version(), "go")}))
	}
	for {
		fr, err := readFrame(conn)
		if err != nil {
			if !isClosed(err) {
				fmt.Fprintf(os.Stderr, "worker protocol error: %v\n", err)
				os.Exit(70)
			}
			os.Exit(0)
		}
		switch fr.typ {
		case frameLoad:
			w.onLoad(fr.body)
		case frameInvoke:
			w.onInvoke(fr.id, fr.body)
		}
	}
}

// preloaded is the LOAD frame the launcher (internal/launcher) read, from the descriptor HKS_LOAD_FD names.
func preloaded() ([]byte, bool) {
	name := os.Getenv("HKS_LOAD_FD")
	if name == "" {
		return nil, false
	}
	for i, kv := range baseEnv {
		if strings.HasPrefix(kv, "HKS_LOAD_FD=") {
			baseEnv = append(baseEnv[:i:i], baseEnv[i+1:]...)
			break
		}
	}
	fd, err := strconv.Atoi(name)
	if err != nil {
		return nil, false
	}
	f := os.NewFile(uintptr(fd), "load")
	defer f.Close()
	spec, err := io.ReadAll(f)
	if err != nil {
		return nil, false
	}
	return spec, true
}

func isClosed(err error) bool {
	s := err.Error()
	return strings.Contains(s, "EOF") || strings.Contains(s, "closed") || strings.Contains(s, "reset by peer")
}
