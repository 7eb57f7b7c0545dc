// Package contractscan reads the workflow contracts' source (no build, no
// type checking) for the tests that hold the contracts and their users
// together: every error type is in the API's error table, every name a
// workflow calls is registered.
package contractscan

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
)

// Constant is a string constant of a contract.
type Constant struct {
	// Name is package.Identifier, e.g. posting.ErrTypeInvalid.
	Name  string
	Value string
}

// parse calls fn with every non-test Go file under dir.
func parse(dir string, fn func(f *ast.File) error) error {
	fset := token.NewFileSet()
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		return fn(f)
	})
}

// StringConstants lists the string constants, at package level or in a
// function, of the Go files under dir whose names match keep.
func StringConstants(dir string, keep func(name string) bool) ([]Constant, error) {
	var out []Constant
	err := parse(dir, func(f *ast.File) error {
		var err error
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || err != nil {
				return err == nil
			}
			for i, name := range vs.Names {
				if i >= len(vs.Values) || !keep(name.Name) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				var v string
				if v, err = strconv.Unquote(lit.Value); err != nil {
					return false
				}
				out = append(out, Constant{Name: f.Name.Name + "." + name.Name, Value: v})
			}
			return true
		})
		return err
	})
	return out, err
}

// WorkflowFuncs lists the exported functions under dir whose first
// parameter is a workflow.Context.
func WorkflowFuncs(dir string) ([]string, error) {
	var out []string
	err := parse(dir, func(f *ast.File) error {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || len(fn.Type.Params.List) == 0 {
				continue
			}
			if sel, ok := fn.Type.Params.List[0].Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Context" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "workflow" {
					out = append(out, fn.Name.Name)
				}
			}
		}
		return nil
	})
	return out, err
}
