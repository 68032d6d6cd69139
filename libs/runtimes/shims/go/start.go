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
//	--check   says whether the handler has a shape the runtime can call (the build runs it), exit 0 or 1
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
	case "--check":
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %s; use --worker, --http or --check\n", mode)
		os.Exit(64)
	}
}
