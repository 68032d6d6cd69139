import { execFile } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';

const run = promisify(execFile);

/**
 * Compiles a Go program (standard library only) into a statically linked binary at `out`
 * (CGO_ENABLED=0): it runs from an image's own layers, with no libc or interpreter beside it.
 */
export async function buildStaticGoProgram(source: string, out: string, go = process.env.HKS_TEST_GO ?? '/usr/bin/go'): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hks-go-'));
  try {
    writeFileSync(path.join(dir, 'main.go'), source);
    writeFileSync(path.join(dir, 'go.mod'), 'module hkstest\n\ngo 1.19\n');
    await run(go, ['build', '-trimpath', '-ldflags', '-s -w', '-o', out, '.'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        CGO_ENABLED: '0',
        GOFLAGS: '-mod=mod',
        GOPROXY: 'off',
        // One build cache for every test run: the standard library compiles once.
        GOCACHE: process.env.HKS_TEST_GOCACHE ?? path.join(tmpdir(), 'hks-test-gocache'),
        GOPATH: path.join(dir, 'gopath'),
      },
      timeout: 120_000,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A function that is its own HTTP server (custom runtime, OCI image), in Go. On $PORT it answers every
 * path with JSON of what it got (method, path, query, body, the x-hks-* headers, its args, working directory
 * and GREETING), logs one line per request to stdout and one to stderr; `?status=N` answers N with a header
 * `x-upstream: yes`; `/crash` exits with code 3 mid-request; `/net` tries to reach 1.1.1.1:53 and says
 * whether it could; `/sleep?ms=N` answers after N ms. `--never-listen` never opens the port; `--exit-early` exits
 * with code 7 before listening.
 */
export const TEST_HTTP_SERVER_GO = `package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	for _, a := range os.Args[1:] {
		if a == "--never-listen" {
			fmt.Println("not listening, on purpose")
			for {
				time.Sleep(time.Hour)
			}
		}
		if a == "--exit-early" {
			fmt.Fprintln(os.Stderr, "giving up before listening")
			os.Exit(7)
		}
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("request %s %s\\n", r.Method, r.URL.Path)
		fmt.Fprintf(os.Stderr, "stderr line for %s\\n", r.Header.Get("x-hks-invocation-id"))
		switch r.URL.Path {
		case "/crash":
			fmt.Println("crashing now")
			os.Exit(3)
		case "/net":
			c, err := net.DialTimeout("tcp", "1.1.1.1:53", 500*time.Millisecond)
			if err == nil {
				c.Close()
			}
			w.Header().Set("content-type", "application/json")
			json.NewEncoder(w).Encode(map[string]interface{}{"reached": err == nil})
			return
		case "/sleep":
			ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		cwd, _ := os.Getwd()
		status := 200
		if s := r.URL.Query().Get("status"); s != "" {
			status, _ = strconv.Atoi(s)
			w.Header().Set("x-upstream", "yes")
		}
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]interface{}{
			"method":       r.Method,
			"path":         r.URL.Path,
			"query":        r.URL.RawQuery,
			"body":         string(body),
			"contentType":  r.Header.Get("content-type"),
			"style":        r.Header.Get("x-hks-invocation-style"),
			"invocationId": r.Header.Get("x-hks-invocation-id"),
			"custom":       r.Header.Get("x-custom"),
			"args":         os.Args[1:],
			"cwd":          cwd,
			"greeting":     os.Getenv("GREETING"),
			"fromImage":    os.Getenv("FROM_IMAGE"),
			"uid":          os.Getuid(),
		})
	})
	addr := "127.0.0.1:" + os.Getenv("PORT")
	fmt.Println("listening on", addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
`;
