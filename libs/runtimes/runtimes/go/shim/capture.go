package hks

import (
	"log"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// What a handler prints with fmt/os.Stdout/os.Stderr/log goes through pipes read here and is sent as the output of
// the invocation in flight (with several in flight it cannot be told apart: it is the worker's own, id 0; hks.Logger
// tags lines exactly). Reads happen under captureMu on non-blocking fds, so an invocation drains what it wrote
// before its result leaves (flushCapture), and its lines are never late.

type captured struct {
	fd     int
	stream byte
}

var (
	captureMu sync.Mutex
	pipes     []captured
	capWorker *worker
	capBuf    = make([]byte, 64<<10)
)

func startCapture(w *worker) {
	capWorker = w
	for _, s := range []struct {
		target **os.File
		stream byte
	}{{&os.Stdout, 1}, {&os.Stderr, 2}} {
		var p [2]int
		if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
			continue
		}
		if err := syscall.SetNonblock(p[0], true); err != nil {
			continue
		}
		*s.target = os.NewFile(uintptr(p[1]), "captured")
		pipes = append(pipes, captured{fd: p[0], stream: s.stream})
	}
	log.SetOutput(os.Stderr)
	go pollCapture()
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

func pollCapture() {
	fds := make([]pollFd, len(pipes))
	for i, p := range pipes {
		fds[i] = pollFd{fd: int32(p.fd), events: pollIn}
	}
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), 0, 0, 0, 0)
		if errno != 0 && errno != syscall.EINTR {
			return
		}
		flushCapture()
	}
}

// flushCapture sends whatever the pipes hold now.
func flushCapture() {
	if capWorker == nil {
		return
	}
	captureMu.Lock()
	defer captureMu.Unlock()
	for _, p := range pipes {
		for {
			n, err := syscall.Read(p.fd, capBuf)
			if n <= 0 || err != nil {
				break
			}
			capWorker.log(capWorker.soleInvocation(), p.stream, append([]byte(nil), capBuf[:n]...))
		}
	}
}
