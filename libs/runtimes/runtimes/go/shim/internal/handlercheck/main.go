// Command handlercheck says whether a Go package defines a handler the runtime can call, from its source alone
// (go/parser: none of the function's code runs on the builder). Usage: handlercheck <package dir> <Func>.
// Exit 0 and "ok" on stdout, exit 1 and what is wrong on stderr, or exit 3 when the files do not parse (the
// compiler then says so, with its file:line).
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"strings"
)

const shapes = "func(context.Context, hks.Request) (hks.Response, error), func(http.ResponseWriter, *http.Request), " +
	"or func(context.Context, T) (U, error) with JSON types T and U (context and error optional)"

func expr(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	_ = printer.Fprint(&b, fset, e)
	return b.String()
}

func types(fset *token.FileSet, fl *ast.FieldList) []string {
	var out []string
	if fl == nil {
		return out
	}
	for _, f := range fl.List {
		n := len(f.Names)
		if n == 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			out = append(out, expr(fset, f.Type))
		}
	}
	return out
}

func check(dir, name string) (string, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		return "", parseError{err}
	}
	for pkgName, pkg := range pkgs {
		for _, file := range pkg.Files {
			for _, d := range file.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || fd.Recv != nil || fd.Name.Name != name {
					continue
				}
				if pkgName == "main" {
					return "", fmt.Errorf("%s is in package main: a function is a package of its own (package function, say); the platform writes the main package", name)
				}
				if fd.Type.TypeParams != nil && len(fd.Type.TypeParams.List) > 0 {
					return "", fmt.Errorf("%s has type parameters; the runtime calls a plain function: write one of %s", name, shapes)
				}
				in, out := types(fset, fd.Type.Params), types(fset, fd.Type.Results)
				sig := fmt.Sprintf("func(%s) (%s)", strings.Join(in, ", "), strings.Join(out, ", "))
				if len(in) == 2 && strings.HasSuffix(in[0], "ResponseWriter") && strings.HasSuffix(in[1], "*http.Request") || len(in) == 2 && strings.HasSuffix(in[1], ".Request") && strings.HasPrefix(in[1], "*") && strings.HasSuffix(in[0], ".ResponseWriter") {
					if len(out) != 0 {
						return "", fmt.Errorf("%s has the parameters of an http.HandlerFunc but returns something (%s): an http handler writes its answer to the ResponseWriter", name, sig)
					}
					return "ok", nil
				}
				for _, t := range in {
					if strings.HasPrefix(t, "...") {
						return "", fmt.Errorf("%s %s is variadic: write one of %s", name, sig, shapes)
					}
				}
				switch {
				case len(in) > 2:
					return "", fmt.Errorf("%s %s takes %d parameters: write one of %s", name, sig, len(in), shapes)
				case len(in) == 2 && !strings.HasSuffix(in[0], "Context"):
					return "", fmt.Errorf("%s %s: the first of two parameters must be a context.Context; write one of %s", name, sig, shapes)
				case len(out) > 2:
					return "", fmt.Errorf("%s %s returns %d values: write one of %s", name, sig, len(out), shapes)
				case len(out) == 2 && out[1] != "error":
					return "", fmt.Errorf("%s %s: the second result must be an error; write one of %s", name, sig, shapes)
				}
				return "ok", nil
			}
		}
	}
	var names []string
	for pkgName := range pkgs {
		names = append(names, pkgName)
	}
	if len(names) == 0 {
		return "", fmt.Errorf("there are no Go files in %s", dir)
	}
	return "", fmt.Errorf("package %s has no function %s (the entry point names it): define func %s(...)", strings.Join(names, ", "), name, name)
}

type parseError struct{ error }

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: handlercheck <package dir> <Func>")
		os.Exit(2)
	}
	kind, err := check(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if _, ok := err.(parseError); ok {
			os.Exit(3)
		}
		os.Exit(1)
	}
	fmt.Println(kind)
}
