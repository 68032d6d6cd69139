package hks

import (
	"fmt"
	"os"
)

// Start runs the function: called by the main package the builder generates (main() { hks.Start(function.Handle) }),
// not by handlers. Modes (the first argument):
//
//	--worker  the invoker's sandboxed worker (frames on fd 3)
//	--http    an HTTP server on PORT (the OCI image's entrypoint)
func Start(fn any) {
	h, err := adapt(fn)
	mode := "--http"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "--worker":
		runWorker(h, err)
	case "--http":
		serveHTTP(h, err)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %s; use --worker or --http\n", mode)
		os.Exit(64)
	}
}
