package main

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigYAMLNamesTheKey: the walk of the YAML tree names the key at
// fault where the old reading of yaml.v3's error texts could not: inside
// lists, where a section is given a single value (yaml.v3 then names a Go
// struct type), inside merged mappings, and for keys given twice.
func TestConfigYAMLNamesTheKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string // fuzzConfigBase is 4 lines: faults after it are on line 5 or later
		want string // the whole message, FILE standing for the path
	}{
		{"mapping inside a list", fuzzConfigBase + "legacy: {login_paths: [/login, {path: /signin}]}\n",
			"config: legacy.login_paths[1]: want a single value, not a mapping (FILE line 5)"},
		{"list inside a list", fuzzConfigBase + "legacy:\n  public_paths:\n    - /assets/\n    - [/a, /b]\n",
			"config: legacy.public_paths[1]: want a single value, not a list (FILE line 8)"},
		{"mapping inside a map's list", fuzzConfigBase + "roles: {owner: [admin, {role: user}]}\n",
			"config: roles.owner[1]: want a single value, not a mapping (FILE line 5)"},
		{"mapping where a value belongs, in a flow mapping", fuzzConfigBase + "admin: {token: {value: x}}\n",
			"config: admin.token: want a single value, not a mapping (FILE line 5)"},
		{"single value where a section belongs", fuzzConfigBase + "legacy: /login\n",
			`config: legacy: want a mapping of keys, not "/login" (FILE line 5)`},
		{"list where a duration belongs", fuzzConfigBase + "claims:\n  ttl: [12h]\n",
			"config: claims.ttl: want a duration such as 12h, 90m or 14d, not a list (FILE line 6)"},
		{"unknown key in a merged mapping", fuzzConfigBase + "log:\n  <<: {levl: debug}\n  format: json\n",
			"config: log.levl: unknown key (FILE line 6); did you mean log.level?"},
		{"merged mapping through an alias", fuzzConfigBase + "log:\n  <<: &defaults {format: json, acess: true}\n",
			"config: log.acess: unknown key (FILE line 6); did you mean log.access?"},
		{"key given twice", fuzzConfigBase + "admin:\n  listen: 127.0.0.1:9000\n  listen: 127.0.0.1:9001\n",
			"config: admin.listen: given twice (FILE lines 6 and 7)"},
		{"a list as the whole file", "- public_url: https://app.example.com\n",
			"config: FILE line 1: want a mapping of keys, not a list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, want := tc.doc, tc.want
			path := cfgWrite(t, "hubgate.yaml", doc)
			_, err := loadConfig(path, cfgEnv())
			if err == nil {
				t.Fatalf("loadConfig(%q) = nil; want %q", doc, want)
			}
			if got := strings.ReplaceAll(err.Error(), path, "FILE"); got != want {
				t.Errorf("loadConfig(%q) =\n  %q\nwant\n  %q", doc, got, want)
			}
			if strings.Contains(err.Error(), "main.") || strings.Contains(err.Error(), "struct {") {
				t.Errorf("loadConfig(%q) = %q; names a Go type", doc, err)
			}
		})
	}
}

// TestConfigUnknownKeyIsOurs is the mutation check: the unknown-key message
// cannot depend on yaml.v3's wording, because yaml.v3 says nothing at all
// about the key. Decoding without KnownFields (what Node.Decode does) takes
// the document silently; the walk alone refuses it, on a tree built by hand
// as well as on a parsed one; and the config code neither imports regexp nor
// looks at yaml.TypeError.
func TestConfigUnknownKeyIsOurs(t *testing.T) {
	t.Parallel()
	var parsed yaml.Node
	if err := yaml.Unmarshal([]byte("session:\n  secrets: [x]\n  tll: 1h\n"), &parsed); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := parsed.Decode(&c); err != nil {
		t.Fatalf("yaml.v3 Node.Decode(unknown key) = %v; want nil (yaml.v3 says nothing of it)", err)
	}
	str := func(v string, line int) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Line: line}
	}
	built := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Content: []*yaml.Node{
		str("session", 1),
		{Kind: yaml.MappingNode, Tag: "!!map", Line: 2, Content: []*yaml.Node{
			str("secrets", 2), {Kind: yaml.SequenceNode, Tag: "!!seq", Line: 2, Content: []*yaml.Node{str("x", 2)}},
			str("tll", 3), str("1h", 3),
		}},
	}}
	const want = "config: session.tll: unknown key (hubgate.yaml line 3); did you mean session.ttl?"
	for name, root := range map[string]*yaml.Node{"parsed": &parsed, "built by hand": built} {
		err := checkSchema(root, reflect.TypeFor[Config](), "hubgate.yaml")
		if err == nil || err.Error() != want {
			t.Errorf("checkSchema(%s tree) = %v; want %q", name, err, want)
		}
	}

	fset := token.NewFileSet()
	files, err := filepath.Glob("config*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "regexp" {
				t.Errorf("%s imports regexp: config errors must come from the YAML tree, not from matching error texts", f)
			}
		}
	}
	for _, f := range files {
		src, err := readBounded(f, maxConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(f, "_test.go") && strings.Contains(string(src), "yaml.TypeError") {
			t.Errorf("%s looks at yaml.TypeError: config errors must come from the YAML tree, not from the decoder's errors", f)
		}
	}
}
