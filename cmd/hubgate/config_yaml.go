package main

// YAML errors that name the key. The file is parsed into a yaml.Node tree
// and walked against the Config schema before anything is decoded: an
// unknown key, or a value of the wrong kind (a list where one value
// belongs, a word where true or false belongs), is reported by its dotted
// path (session.ttl, legacy.login_paths[1]) with the file and line, in our
// words. The messages never depend on the YAML library's error texts, and
// never quote a value that may be a secret.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decodeConfigFile decodes the YAML document raw, read from path, into c,
// adding to p every key at fault and the line of every value. An empty
// document sets nothing. The error it returns is one that ends the load:
// a document that does not parse, or is not a mapping.
func decodeConfigFile(raw []byte, c *Config, p *problems) error {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("config: %s: %w", p.path, err)
	}
	if err := walkSchema(&root, reflect.TypeFor[Config](), p); err != nil {
		return err
	}
	// The walk set aside every value it refused, so this can only fail on
	// what the walk does not look at (an alias that contains itself,
	// excessive aliasing).
	if err := root.Decode(c); err != nil {
		return fmt.Errorf("config: %s: %w", p.path, err)
	}
	return nil
}

// valueError is a bad value met while decoding a scalar (a duration that
// does not parse), with its line.
type valueError struct {
	line int
	err  error
}

func (e *valueError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

// checkSchema walks the document root against the struct type t and
// returns every unknown key or value of the wrong kind, each as a
// configError naming its dotted key (configErrors when there are several).
func checkSchema(root *yaml.Node, t reflect.Type, path string) error {
	p := newProblems(path)
	if err := walkSchema(root, t, p); err != nil {
		return err
	}
	return p.err()
}

// walkSchema walks the document root against the struct type t, adding
// each fault to p and setting the value at fault aside (a null, or a key
// left out), so that the rest decodes. It returns an error only when the
// document as a whole is wrong.
func walkSchema(root *yaml.Node, t reflect.Type, p *problems) error {
	w := &schemaWalk{p: p, seen: map[schemaVisit]bool{}}
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	if n = unalias(n); n != nil && !isNull(n) && n.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s line %d: want %s, not a %s", p.path, n.Line, wantWords(t), nodeKind(n))
	}
	w.check(n, t, "")
	return nil
}

// schemaWalk is one walk of a document.
type schemaWalk struct {
	p *problems // where faults and lines go
	// seen holds the nodes already checked against a type: a node that
	// aliases reach many times ("billion laughs") is checked once, and an
	// alias that contains itself ends the walk instead of looping.
	seen map[schemaVisit]bool
}

type schemaVisit struct {
	n *yaml.Node
	t reflect.Type
}

// check checks node n, the value of key, against the Go type t; a value at
// fault is reported and set aside.
func (w *schemaWalk) check(n *yaml.Node, t reflect.Type, key string) {
	n = unalias(n)
	if n == nil {
		return
	}
	if key != "" {
		if _, ok := w.p.lines[key]; !ok {
			w.p.lines[key] = n.Line
		}
	}
	if isNull(n) || t.Kind() == reflect.Interface {
		return // null sets the zero value of any type; anything fits an interface
	}
	v := schemaVisit{n, t}
	if w.seen[v] {
		return
	}
	w.seen[v] = true
	want := wantKind(t)
	if n.Kind != want {
		w.kindError(n, t, key)
		return
	}
	switch want {
	case yaml.MappingNode:
		w.mapping(n, t, key)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			w.check(item, t.Elem(), fmt.Sprintf("%s[%d]", key, i))
		}
	default:
		w.scalar(n, t, key)
	}
}

// setAside makes n a null: the decoder then leaves its value unset.
func setAside(n *yaml.Node) {
	*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: n.Line, Column: n.Column}
}

// scalar checks that the scalar n decodes into t. What a scalar may spell
// (true, yes, 0x1F) is the decoder's to say: it decodes n alone, and only
// whether that worked is used, never its message.
func (w *schemaWalk) scalar(n *yaml.Node, t reflect.Type, key string) {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return
	}
	var ve *valueError
	if errors.As(err, &ve) {
		w.p.addAt(ve.line, keyOr(key), fmt.Sprintf("%v (%s line %d)", ve.err, w.p.path, ve.line))
		setAside(n)
		return
	}
	w.kindError(n, t, key)
}

// mapping checks the keys and values of the mapping n against t, a struct
// (keys must be its fields) or a map. Pairs at fault (an unknown key, a
// key given twice, a merge of something else than mappings) are left out.
func (w *schemaWalk) mapping(n *yaml.Node, t reflect.Type, key string) {
	first := map[string]int{} // key → line, to refuse a key given twice
	keep := n.Content[:0:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := unalias(n.Content[i]), n.Content[i+1]
		if isMergeKey(k) {
			if w.merge(v, t, key) {
				keep = append(keep, n.Content[i], v)
			}
			continue
		}
		name := keyName(k)
		vt, ok := w.valueType(k, t, key, name)
		if !ok {
			continue
		}
		sub := joinKey(key, name)
		if line, dup := first[name]; dup {
			w.p.addAt(k.Line, sub, fmt.Sprintf("given twice (%s lines %d and %d)", w.p.path, line, k.Line))
			continue
		}
		first[name] = k.Line
		w.check(v, vt, sub)
		keep = append(keep, n.Content[i], v)
	}
	n.Content = keep
}

// valueType is the type of the value that the mapping key k (called name)
// of type t, itself the value of parent, holds: the struct's field, or the
// map's element once the key decodes into the map's key type. ok is false
// (and the fault reported) when there is none.
func (w *schemaWalk) valueType(k *yaml.Node, t reflect.Type, parent, name string) (reflect.Type, bool) {
	if t.Kind() == reflect.Map {
		if k.Kind != yaml.ScalarNode || k.Decode(reflect.New(t.Key()).Interface()) != nil {
			w.kindError(k, t.Key(), keyOr(parent))
			return nil, false
		}
		return t.Elem(), true
	}
	f, ok := yamlField(t, name)
	if !ok {
		w.unknownKey(k, t, parent, name)
		return nil, false
	}
	return f.Type, true
}

// merge checks the value of a merge key (<<: *defaults): a mapping, or a
// list of mappings, whose keys count as the enclosing mapping's own. ok is
// false when it is something else (reported).
func (w *schemaWalk) merge(v *yaml.Node, t reflect.Type, key string) (ok bool) {
	v = unalias(v)
	if v == nil {
		return true
	}
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, m := range items {
		if m = unalias(m); m.Kind != yaml.MappingNode {
			w.p.addAt(m.Line, joinKey(key, "<<"), fmt.Sprintf("want a mapping or a list of mappings to merge (%s line %d)", w.p.path, m.Line))
			return false
		}
	}
	for _, m := range items {
		w.check(unalias(m), t, key)
	}
	return true
}

// unknownKey names a key that is not a field of the struct t, with the
// field it was probably meant to be.
func (w *schemaWalk) unknownKey(k *yaml.Node, t reflect.Type, parent, name string) {
	hint := ""
	if near := nearestField(t, name); near != "" {
		hint = fmt.Sprintf("; did you mean %s?", joinKey(parent, near))
	}
	w.p.addAt(k.Line, joinKey(parent, name), fmt.Sprintf("unknown key (%s line %d)%s", w.p.path, k.Line, hint))
}

// kindError says what the value of key should have been and what it is,
// quoting the value only when it is short and cannot be a secret, and
// sets the value aside.
func (w *schemaWalk) kindError(n *yaml.Node, t reflect.Type, key string) {
	got := "a " + nodeKind(n)
	if n.Kind == yaml.ScalarNode && !sensitiveKey(key) && len(n.Value) <= 64 {
		got = strconv.Quote(n.Value)
	}
	w.p.addAt(n.Line, keyOr(key), fmt.Sprintf("want %s, not %s (%s line %d)", wantWords(t), got, w.p.path, n.Line))
	setAside(n)
}

// wantKind is the kind of node a value of type t is written as.
func wantKind(t reflect.Type) yaml.Kind {
	if t == reflect.TypeFor[duration]() {
		return yaml.ScalarNode
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return yaml.MappingNode
	case reflect.Slice, reflect.Array:
		return yaml.SequenceNode
	}
	return yaml.ScalarNode
}

// wantWords says what a value of type t is, in the file's terms.
func wantWords(t reflect.Type) string {
	if t == reflect.TypeFor[duration]() {
		return "a duration such as 12h, 90m or 14d"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[duration]() {
		return "a duration such as 12h, 90m or 14d"
	}
	switch t.Kind() {
	case reflect.String:
		return "a single value"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping of keys"
	}
	return "another kind of value"
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "single value"
}

// unalias returns the node an alias (*name) stands for.
func unalias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isMergeKey reports whether k is the merge key "<<" (as the decoder
// tells them: plain, or tagged !!merge).
func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge")
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// keyName is a mapping key as the dotted path shows it.
func keyName(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return "(" + nodeKind(k) + ")"
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// keyOr names the top level, which has no key.
func keyOr(key string) string {
	if key == "" {
		return "(top level)"
	}
	return key
}

// yamlField returns the field of struct t that the YAML key name sets, as
// the decoder matches them: the yaml tag's name, else the lower-cased
// field name; "-" and unexported fields are never set.
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if n, ok := yamlName(t.Field(i)); ok && n == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name := strings.Split(f.Tag.Get("yaml"), ",")[0]
	switch name {
	case "-":
		return "", false
	case "":
		return strings.ToLower(f.Name), true
	}
	return name, true
}

// nearestField suggests the key of struct t closest to name (at most two
// edits away), or "".
func nearestField(t reflect.Type, name string) string {
	best, bestD := "", 3
	for i := range t.NumField() {
		tag, ok := yamlName(t.Field(i))
		if !ok {
			continue
		}
		if d := editDistance(name, tag); d < bestD {
			best, bestD = tag, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (short strings).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// sensitiveKey reports whether a key's value may be a secret (never quoted
// in errors).
func sensitiveKey(key string) bool {
	for _, w := range []string{"secret", "token", "smtp", "store", "password", "key", "dsn"} {
		if strings.Contains(key, w) {
			return true
		}
	}
	return key == ""
}
