// Command launcher is the Go runtime's prewarmed worker: a compiled function cannot start before it is known, so this
// starts in its place (in the sandbox, the bundle not yet there), says HELLO on fd 3, reads exactly the LOAD frame
// (invocations sent behind it stay unread in the socket), then execs the function's binary from the code folder,
// which reads that frame from fd 4 (HKS_LOAD_FD) and goes on serving fd 3. A cold start then costs an
// exec instead of a sandbox.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

const (
	controlFD      = 3
	loadFD         = 4
	frameLoad      = 1
	frameHello     = 10
	frameLoadError = 12
	maxLoadFrame   = 16 << 20
	// binaryPath is where the build puts the function's binary, in the code folder.
	binaryPath = ".hks/function"
)

func write(typ byte, body []byte) {
	out := make([]byte, 9+len(body))
	binary.LittleEndian.PutUint32(out[0:], uint32(len(body)+5))
	out[4] = typ
	copy(out[9:], body)
	for len(out) > 0 {
		n, err := syscall.Write(controlFD, out)
		if err != nil {
			os.Exit(0)
		}
		out = out[n:]
	}
}

func readFull(b []byte) {
	for len(b) > 0 {
		n, err := syscall.Read(controlFD, b)
		if n <= 0 || err != nil {
			os.Exit(0) // the invoker is gone
		}
		b = b[n:]
	}
}

func loadError(message string) {
	b, _ := json.Marshal(map[string]string{"name": "LoadError", "message": message})
	write(frameLoadError, b)
	os.Exit(1)
}

// passOn puts the LOAD frame's body on fd 4, as an unlinked file of the sandbox's own /tmp (a tmpfs).
func passOn(body []byte) error {
	f, err := os.CreateTemp("", ".hks-load-")
	if err != nil {
		return err
	}
	if err := os.Remove(f.Name()); err != nil {
		return err
	}
	if _, err := f.Write(body); err != nil {
		return err
	}
	if _, err := f.Seek(0, 0); err != nil {
		return err
	}
	if int(f.Fd()) == loadFD {
		// It is fd 4 already: only its close-on-exec flag goes.
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), syscall.F_SETFD, 0); errno != 0 {
			return errno
		}
		return nil
	}
	// Dup3 without O_CLOEXEC: the descriptor survives the exec.
	return syscall.Dup3(int(f.Fd()), loadFD, 0)
}

func main() {
	hello, _ := json.Marshal(map[string]string{"runtime": "go", "version": strings.TrimPrefix(runtime.Version(), "go")})
	write(frameHello, hello)
	var head [9]byte
	readFull(head[:])
	length := binary.LittleEndian.Uint32(head[0:])
	if head[4] != frameLoad || length < 5 || length > maxLoadFrame {
		fmt.Fprintf(os.Stderr, "worker protocol error: expected LOAD, got frame type %d of %d bytes\n", head[4], length)
		os.Exit(70)
	}
	body := make([]byte, length-5)
	readFull(body)
	var spec struct {
		CodeDir string `json:"codeDir"`
	}
	_ = json.Unmarshal(body, &spec)
	if spec.CodeDir == "" {
		spec.CodeDir = "/code"
	}
	if err := passOn(body); err != nil {
		loadError("the Go worker cannot pass its function's settings on: " + err.Error())
	}
	path := filepath.Join(spec.CodeDir, binaryPath)
	env := append(os.Environ(), fmt.Sprintf("HKS_LOAD_FD=%d", loadFD))
	err := syscall.Exec(path, []string{path, "--worker"}, env)
	loadError(fmt.Sprintf("cannot start the function's binary %s: %v (was it built by the Go runtime?)", binaryPath, err))
}
