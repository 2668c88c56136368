// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package runbooks checks that every alert the project emits has a runbook
// here with the sections an on-call engineer needs.
package runbooks

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sections every runbook has, as second-level headings.
var sections = []string{
	"## What it means",
	"## What to look at first",
	"## Common causes per job system",
	"## How to tune or silence",
}

const alertPackage = "github.com/otelcol-jobs/otelcol-jobs/internal/alert"

// TestEveryAlertHasARunbook: each name of alert.Names(), and each alert name
// the code uses, has docs/runbooks/<name>.md with every section.
func TestEveryAlertHasARunbook(t *testing.T) {
	used := usedAlertNames(t, "../..")
	assert.Contains(t, used, alert.ProcessHeartbeatMissing, "the scan sees the receiver's rules")
	names := alert.Names()
	for _, n := range used {
		assert.Contains(t, names, n, "the code emits %q, which alert.Names() does not list", n)
	}
	for _, n := range names {
		t.Run(string(n), func(t *testing.T) {
			text, err := os.ReadFile(string(n) + ".md")
			require.NoError(t, err, "alert %s has no runbook", n)
			assert.True(t, strings.HasPrefix(string(text), "# "+string(n)+"\n"), "the page is titled with the alert name")
			last := -1
			for _, s := range sections {
				i := strings.Index(string(text), "\n"+s+"\n")
				if assert.GreaterOrEqual(t, i, 0, "section %q is missing", s) {
					assert.Greater(t, i, last, "section %q is out of order", s)
					last = i
				}
			}
			assert.Contains(t, string(text), "Sidekiq", "the causes name the job systems")
		})
	}
	index, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, n := range names {
		assert.Contains(t, string(index), "("+string(n)+".md)", "README.md lists %s", n)
	}
}

// usedAlertNames returns the alert names the module's non-test Go code
// uses: the alert package's Name constants it refers to, alert.Name("...")
// conversions, and Name: "..." in alert.Alert literals.
func usedAlertNames(t *testing.T, root string) []alert.Name {
	t.Helper()
	constants := nameConstants(t, filepath.Join(root, "internal", "alert"))
	require.NotEmpty(t, constants)
	var used []alert.Name
	add := func(n alert.Name) {
		if !slices.Contains(used, n) {
			used = append(used, n)
		}
	}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		local := importName(f)
		inAlert := filepath.Dir(path) == filepath.Join(root, "internal", "alert")
		if local == "" && !inAlert {
			return nil
		}
		isAlert := func(x ast.Expr) bool {
			id, ok := x.(*ast.Ident)
			return ok && id.Name == local
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if v, ok := constants[n.Sel.Name]; ok && isAlert(n.X) {
					add(v)
				}
			case *ast.CallExpr: // alert.Name("...")
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && isAlert(sel.X) && sel.Sel.Name == "Name" && len(n.Args) == 1 {
					if s, ok := stringLiteral(n.Args[0]); ok {
						add(alert.Name(s))
					}
				}
			case *ast.CompositeLit: // alert.Alert{Name: "..."}
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && isAlert(sel.X) && sel.Sel.Name == "Alert" {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok && isIdent(kv.Key, "Name") {
							if s, ok := stringLiteral(kv.Value); ok {
								add(alert.Name(s))
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return used
}

// nameConstants parses the alert package for its constants of type Name.
func nameConstants(t *testing.T, dir string) map[string]alert.Name {
	t.Helper()
	out := map[string]alert.Name{}
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if !isIdent(vs.Type, "Name") {
					continue
				}
				for i, id := range vs.Names {
					if s, ok := stringLiteral(vs.Values[i]); ok {
						out[id.Name] = alert.Name(s)
					}
				}
			}
		}
	}
	return out
}

// importName is the name a file gives the alert package ("" if it does not
// import it).
func importName(f *ast.File) string {
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path == alertPackage {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return "alert"
		}
	}
	return ""
}

func isIdent(x ast.Expr, name string) bool {
	id, ok := x.(*ast.Ident)
	return ok && id.Name == name
}

func stringLiteral(x ast.Expr) (string, bool) {
	lit, ok := x.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}
