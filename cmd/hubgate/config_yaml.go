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

// decodeConfigFile decodes the YAML document raw, read from path, into c.
// An empty document sets nothing.
func decodeConfigFile(raw []byte, path string, c *Config) error {
	var root yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(raw)).Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if err := checkSchema(&root, reflect.TypeFor[Config](), path); err != nil {
		return err
	}
	// The walk accepted every key and value, so this can only fail on
	// what the walk does not look at (an alias that contains itself,
	// excessive aliasing).
	if err := root.Decode(c); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
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
// returns the first unknown key or value of the wrong kind, as a
// configError naming its dotted key.
func checkSchema(root *yaml.Node, t reflect.Type, path string) error {
	w := &schemaWalk{path: path, seen: map[schemaVisit]bool{}}
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		n = n.Content[0]
	}
	return w.check(n, t, "")
}

// schemaWalk is one walk of a document.
type schemaWalk struct {
	path string // the file, for messages
	// seen holds the nodes already checked against a type: a node that
	// aliases reach many times ("billion laughs") is checked once, and an
	// alias that contains itself ends the walk instead of looping.
	seen map[schemaVisit]bool
}

type schemaVisit struct {
	n *yaml.Node
	t reflect.Type
}

// check checks node n, the value of key, against the Go type t.
func (w *schemaWalk) check(n *yaml.Node, t reflect.Type, key string) error {
	n = unalias(n)
	if n == nil || isNull(n) || t.Kind() == reflect.Interface {
		return nil // null sets the zero value of any type; anything fits an interface
	}
	v := schemaVisit{n, t}
	if w.seen[v] {
		return nil
	}
	w.seen[v] = true
	switch wantKind(t) {
	case yaml.MappingNode:
		if n.Kind != yaml.MappingNode {
			return w.kindError(n, t, key)
		}
		return w.mapping(n, t, key)
	case yaml.SequenceNode:
		if n.Kind != yaml.SequenceNode {
			return w.kindError(n, t, key)
		}
		for i, item := range n.Content {
			if err := w.check(item, t.Elem(), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return w.kindError(n, t, key)
	}
	return w.scalar(n, t, key)
}

// scalar checks that the scalar n decodes into t. What a scalar may spell
// (true, yes, 0x1F) is the decoder's to say: it decodes n alone, and only
// whether that worked is used, never its message.
func (w *schemaWalk) scalar(n *yaml.Node, t reflect.Type, key string) error {
	err := n.Decode(reflect.New(t).Interface())
	if err == nil {
		return nil
	}
	var ve *valueError
	if errors.As(err, &ve) {
		return &configError{Key: keyOr(key), Msg: fmt.Sprintf("%v (%s line %d)", ve.err, w.path, ve.line)}
	}
	return w.kindError(n, t, key)
}

// mapping checks the keys and values of the mapping n against t, a struct
// (keys must be its fields) or a map.
func (w *schemaWalk) mapping(n *yaml.Node, t reflect.Type, key string) error {
	first := map[string]int{} // key → line, to refuse a key given twice
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := unalias(n.Content[i]), n.Content[i+1]
		if isMergeKey(k) {
			if err := w.merge(v, t, key); err != nil {
				return err
			}
			continue
		}
		name := keyName(k)
		vt, err := w.valueType(k, t, key, name)
		if err != nil {
			return err
		}
		sub := joinKey(key, name)
		if line, dup := first[name]; dup {
			return &configError{Key: sub, Msg: fmt.Sprintf("given twice (%s lines %d and %d)", w.path, line, k.Line)}
		}
		first[name] = k.Line
		if err := w.check(v, vt, sub); err != nil {
			return err
		}
	}
	return nil
}

// valueType is the type of the value that the mapping key k (called name)
// of type t, itself the value of parent, holds: the struct's field, or the
// map's element once the key decodes into the map's key type.
func (w *schemaWalk) valueType(k *yaml.Node, t reflect.Type, parent, name string) (reflect.Type, error) {
	if t.Kind() == reflect.Map {
		if err := w.check(k, t.Key(), keyOr(parent)); err != nil {
			return nil, err
		}
		return t.Elem(), nil
	}
	f, ok := yamlField(t, name)
	if !ok {
		return nil, w.unknownKey(k, t, parent, name)
	}
	return f.Type, nil
}

// merge checks the value of a merge key (<<: *defaults): a mapping, or a
// list of mappings, whose keys count as the enclosing mapping's own.
func (w *schemaWalk) merge(v *yaml.Node, t reflect.Type, key string) error {
	v = unalias(v)
	if v == nil {
		return nil
	}
	items := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		items = v.Content
	}
	for _, m := range items {
		if m = unalias(m); m.Kind != yaml.MappingNode {
			return &configError{Key: joinKey(key, "<<"), Msg: fmt.Sprintf("want a mapping or a list of mappings to merge (%s line %d)", w.path, m.Line)}
		}
		if err := w.check(m, t, key); err != nil {
			return err
		}
	}
	return nil
}

// unknownKey names a key that is not a field of the struct t, with the
// field it was probably meant to be.
func (w *schemaWalk) unknownKey(k *yaml.Node, t reflect.Type, parent, name string) error {
	hint := ""
	if near := nearestField(t, name); near != "" {
		hint = fmt.Sprintf("; did you mean %s?", joinKey(parent, near))
	}
	return &configError{Key: joinKey(parent, name), Msg: fmt.Sprintf("unknown key (%s line %d)%s", w.path, k.Line, hint)}
}

// kindError says what the value of key should have been and what it is,
// quoting the value only when it is short and cannot be a secret.
func (w *schemaWalk) kindError(n *yaml.Node, t reflect.Type, key string) error {
	got := "a " + nodeKind(n)
	if n.Kind == yaml.ScalarNode && !sensitiveKey(key) && len(n.Value) <= 64 {
		got = strconv.Quote(n.Value)
	}
	if key == "" {
		return fmt.Errorf("config: %s line %d: want %s, not %s", w.path, n.Line, wantWords(t), got)
	}
	return &configError{Key: key, Msg: fmt.Sprintf("want %s, not %s (%s line %d)", wantWords(t), got, w.path, n.Line)}
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
	switch t.Kind() {
	case reflect.String:
		return "a single value"
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
