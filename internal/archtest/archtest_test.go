// Package archtest checks the shape of the code base that reviews asked for
// (issue 11) so that it stays that way: small files and functions, contracts
// named instead of asserted anonymously, every package documented, and the
// domain packages free of outside dependencies. It owns only these checks:
// it reads the source, never runs or builds it, and says nothing about
// behaviour (the packages' own tests do).
package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	maxFileLines = 600
	maxFuncLines = 100
)

// pureImports lists, per domain package, the non-standard imports it may
// use: the standard library always, these only.
var pureImports = map[string][]string{
	"claim":   nil,
	"roles":   nil,
	"session": {"github.com/gorilla/securecookie"},
}

// debt lists the violations that were here when these checks were written,
// keyed as the checks report them. Each must go: an entry that no longer
// matches a violation fails the test, so the list only shrinks.
var debt = map[string]bool{}

// checker reports violations, forgiving those in debt and failing on debt
// entries that were never reported (paid off: delete them).
type checker struct {
	t    *testing.T
	seen map[string]bool
}

func newChecker(t *testing.T) *checker { return &checker{t: t, seen: map[string]bool{}} }

func (c *checker) report(key, format string, args ...any) {
	c.t.Helper()
	if debt[key] {
		c.seen[key] = true
		return
	}
	c.t.Errorf(format, args...)
}

// done fails for each debt entry of the given kind that was not seen.
func (c *checker) done(kind string) {
	c.t.Helper()
	for _, k := range sortedKeys(debt) {
		if strings.HasPrefix(k, kind+" ") && !c.seen[k] {
			c.t.Errorf("%q is listed in debt but no longer a violation: delete the entry", k)
		}
	}
}

type pkgFiles struct {
	dir   string
	files map[string]*ast.File // path → parsed file (test files included)
}

// root is the module root: two levels up from this package.
func root(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd))
}

func parseTree(t *testing.T) (*token.FileSet, map[string]*pkgFiles) {
	t.Helper()
	top := root(t)
	fset := token.NewFileSet()
	pkgs := map[string]*pkgFiles{}
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if p != top && (strings.HasPrefix(name, ".") || name == "testdata" || name == "hubgate-dev" || name == "artifacts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(top, filepath.Dir(p))
		pf := pkgs[dir]
		if pf == nil {
			pf = &pkgFiles{dir: dir, files: map[string]*ast.File{}}
			pkgs[dir] = pf
		}
		pf.files[p] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fset, pkgs
}

func isTest(p string) bool { return strings.HasSuffix(p, "_test.go") }

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestFilesAndFunctionsAreSmall(t *testing.T) {
	fset, pkgs := parseTree(t)
	top := root(t)
	c := newChecker(t)
	defer c.done("file")
	defer c.done("func")
	for _, dir := range sortedKeys(pkgs) {
		for _, p := range sortedKeys(pkgs[dir].files) {
			if isTest(p) {
				continue
			}
			f := pkgs[dir].files[p]
			rel, _ := filepath.Rel(top, p)
			if n := fset.Position(f.End()).Line; n > maxFileLines {
				c.report("file "+rel, "%s: %d lines, want ≤ %d (split it by concept)", rel, n, maxFileLines)
			}
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
				if n > maxFuncLines {
					c.report("func "+rel+" "+funcName(fn), "%s: func %s is %d lines, want ≤ %d (split it into named steps)", rel, funcName(fn), n, maxFuncLines)
				}
			}
		}
	}
}

func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fn.Name.Name
	}
	return fn.Name.Name
}

// TestNoAnonymousInterfaces: a contract is a named interface declared by its
// consumer, never a type assertion or parameter of an anonymous interface
// type (x.(interface{ M() })), which hides a method the declared interface
// leaves out.
func TestNoAnonymousInterfaces(t *testing.T) {
	fset, pkgs := parseTree(t)
	top := root(t)
	c := newChecker(t)
	defer c.done("anon")
	for _, dir := range sortedKeys(pkgs) {
		for _, p := range sortedKeys(pkgs[dir].files) {
			if isTest(p) {
				continue
			}
			rel, _ := filepath.Rel(top, p)
			ast.Inspect(pkgs[dir].files[p], func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.TypeSpec:
					if _, ok := n.Type.(*ast.InterfaceType); ok {
						return false // a named interface: fine, and its methods' params too
					}
				case *ast.InterfaceType:
					if n.Methods != nil && len(n.Methods.List) > 0 {
						c.report("anon "+rel, "%s: anonymous interface with methods; declare a named interface where it is consumed", fset.Position(n.Pos()).String()[len(top)+1:])
					}
				}
				return true
			})
		}
	}
}

func TestEveryPackageIsDocumented(t *testing.T) {
	_, pkgs := parseTree(t)
	c := newChecker(t)
	defer c.done("doc")
	for _, dir := range sortedKeys(pkgs) {
		documented, hasNonTest := false, false
		for p, f := range pkgs[dir].files {
			if isTest(p) && !strings.HasSuffix(dir, "archtest") {
				continue
			}
			hasNonTest = true
			if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
				documented = true
			}
		}
		if hasNonTest && !documented {
			c.report("doc "+dir, "package %s has no package comment: say what it owns and what it never does", dir)
		}
	}
}

// TestDomainPackagesStayPure: claim, roles and session import only the
// standard library (and session the cookie library of the design).
func TestDomainPackagesStayPure(t *testing.T) {
	_, pkgs := parseTree(t)
	for _, dir := range sortedKeys(pureImports) {
		pf := pkgs[dir]
		if pf == nil {
			t.Errorf("package %s is missing", dir)
			continue
		}
		allowed := pureImports[dir]
		for _, p := range sortedKeys(pf.files) {
			if isTest(p) {
				continue
			}
			for _, im := range pf.files[p].Imports {
				path := strings.Trim(im.Path.Value, `"`)
				first := strings.SplitN(path, "/", 2)[0]
				if !strings.Contains(first, ".") {
					continue // standard library
				}
				ok := false
				for _, a := range allowed {
					ok = ok || path == a
				}
				if !ok {
					t.Errorf("%s imports %s: %s may import only the standard library%s", filepath.Base(p), path, dir, extra(allowed))
				}
			}
		}
	}
}

func extra(allowed []string) string {
	if len(allowed) == 0 {
		return ""
	}
	return " and " + strings.Join(allowed, ", ")
}
