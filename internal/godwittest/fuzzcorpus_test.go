package godwittest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFuzzCorporaHaveTargets: a seed corpus runs only under the name of a
// fuzz target of its package (testdata/fuzz/<FuzzName>); one left behind by
// a renamed target is silently never run.
func TestFuzzCorporaHaveTargets(t *testing.T) {
	root := filepath.Join("..", "..")
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git") {
			return filepath.SkipDir
		}
		if !d.IsDir() || filepath.Base(filepath.Dir(path)) != "fuzz" || filepath.Base(filepath.Dir(filepath.Dir(path))) != "testdata" {
			return nil
		}
		found++
		pkg := filepath.Dir(filepath.Dir(filepath.Dir(path)))
		if !declaresFunc(t, pkg, d.Name()) {
			t.Errorf("%s: no fuzz target %s in %s: move the corpus to the target's directory", path, d.Name(), pkg)
		}
		return filepath.SkipDir
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no testdata/fuzz directory found: the walk is looking in the wrong place")
	}
}

func declaresFunc(t *testing.T, dir, name string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == name {
				return true
			}
		}
	}
	return false
}
