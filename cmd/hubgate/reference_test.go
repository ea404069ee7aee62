package main

// The README's reference of every configuration key is generated from the
// schema: the keys and their environment names from the Config struct,
// the defaults from Config.defaults, the meanings from the fields'
// comments in config.go. TestConfigReference fails when the README and
// the schema disagree; `go test ./cmd/hubgate -run TestConfigReference
// -update` rewrites the README's table.

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the README's configuration reference")

const (
	refBegin = "<!-- BEGIN config reference: generated from cmd/hubgate/config.go by `go test ./cmd/hubgate -run TestConfigReference -update` -->"
	refEnd   = "<!-- END config reference -->"
)

func TestConfigReference(t *testing.T) {
	want := configReference(t)
	const readme = "../../README.md"
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, refBegin), strings.Index(doc, refEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q … %q around the configuration reference", refBegin, refEnd)
	}
	got := doc[i+len(refBegin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readme, []byte(doc[:i+len(refBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the configuration reference in README.md")
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for k := range max(len(gl), len(wl)) {
		var g, w string
		if k < len(gl) {
			g = gl[k]
		}
		if k < len(wl) {
			w = wl[k]
		}
		if g != w {
			t.Fatalf("README.md's configuration reference differs from the schema at line %d:\n README: %s\n schema: %s\n"+
				"run: go test ./cmd/hubgate -run TestConfigReference -update", k+1, g, w)
		}
	}
}

// configReference renders the reference: one row per key, then the other
// variables hubgate reads.
func configReference(t *testing.T) string {
	t.Helper()
	docs := fieldDocs(t)
	var d Config
	d.defaults()
	d.validateMemory(newProblems(""))
	var b strings.Builder
	b.WriteString("\n| key | environment | default | meaning |\n|---|---|---|---|\n")
	for _, k := range schemaKeys(reflect.TypeFor[Config](), "") {
		if !k.leaf {
			continue
		}
		meaning, ok := docs[k.key]
		if !ok || meaning == "" {
			t.Errorf("config.go: %s has no comment; its comment is its meaning in the README", k.key)
		}
		if k.field.Tag.Get("secret") != "" {
			meaning += " · **secret**: or from the file `" + lastPart(k.key) + "_file` names; masked by `config print`"
		}
		env := "—"
		if k.env != "" {
			env = "`" + k.env + "`"
		}
		def := ""
		if !strings.Contains(k.key, "[]") {
			def = formatDefault(valueAt(reflect.ValueOf(d), k.key))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", k.key, env, def, cell(meaning))
	}
	b.WriteString("\nOther variables hubgate reads (anything else named `HUBGATE_*` stops the start):\n\n| variable | what |\n|---|---|\n")
	other := otherEnv()
	names := make([]string, 0, len(other))
	for n := range other {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "| `%s` | %s |\n", n, cell(other[n]))
	}
	b.WriteString("\n")
	return b.String()
}

// fieldDocs reads config.go and returns each key's field comment.
func fieldDocs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				types[ts.Name.Name] = st
			}
		}
		return true
	})
	docs := map[string]string{}
	var walk func(prefix string, st *ast.StructType)
	walk = func(prefix string, st *ast.StructType) {
		for _, fld := range st.Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			name := strings.Split(reflect.StructTag(tag).Get("yaml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			key := joinKey(prefix, name)
			text := fld.Comment.Text()
			if text == "" {
				text = fld.Doc.Text()
			}
			docs[key] = strings.Join(strings.Fields(text), " ")
			switch ft := fld.Type.(type) {
			case *ast.StructType:
				walk(key, ft)
			case *ast.ArrayType:
				if id, ok := ft.Elt.(*ast.Ident); ok && types[id.Name] != nil {
					walk(key+"[]", types[id.Name])
				}
			}
		}
	}
	walk("", types["Config"])
	return docs
}

// valueAt is the value of the dotted key in the struct v.
func valueAt(v reflect.Value, key string) reflect.Value {
	for _, part := range strings.Split(key, ".") {
		f, ok := yamlField(v.Type(), part)
		if !ok {
			return reflect.Value{}
		}
		v = v.FieldByIndex(f.Index)
	}
	return v
}

// formatDefault writes a default as the file would hold it; "" for none.
func formatDefault(v reflect.Value) string {
	if v.IsValid() && v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || v.IsZero() {
		return ""
	}
	if v.Type() == reflect.TypeFor[duration]() {
		return "`" + formatDuration(time.Duration(v.Int())) + "`"
	}
	return "`" + fmt.Sprint(v.Interface()) + "`"
}

func lastPart(key string) string {
	return key[strings.LastIndexAny(key, ".]")+1:]
}

// cell makes text safe in a Markdown table cell: no column breaks, no
// HTML.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}
