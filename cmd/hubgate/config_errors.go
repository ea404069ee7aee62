package main

// Config errors, all at once. Loading a configuration goes on past a bad
// key, so that one run names every key at fault: the YAML walk sets a bad
// value aside (as if it were not given) and goes on, the environment and
// the secret files are each read in full, and validation checks every
// section. problems collects what each step finds; its err sorts them (by
// their place in the file, then by the key's place in the schema) and
// drops what only follows from an earlier fault (a value the walk refused
// is then "required").

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// configError names the key at fault.
type configError struct {
	Key string
	Msg string

	line  int // the value's line in the file; 0: not from the file
	phase int // the step of loading that found it (problems.phase)
}

func (e *configError) Error() string { return "config: " + e.Key + ": " + e.Msg }

// configErrors are several faults of one configuration, sorted.
type configErrors []*configError

func (es configErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d errors:", len(es))
	for _, e := range es {
		b.WriteString("\n  " + e.Key + ": " + e.Msg)
	}
	return b.String()
}

// Unwrap lets errors.As find each fault.
func (es configErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// The steps of loading, in order: a fault found in a later step about a
// key an earlier step already named is a consequence, not news.
const (
	phaseFile = iota + 1
	phaseEnv
	phaseSecrets
	phaseValidate
)

// problems collects the faults of one load.
type problems struct {
	path  string            // the config file, for messages
	phase int               // the step running now
	errs  []*configError    // in the order found
	lines map[string]int    // dotted key → the line of its value in the file
	env   map[string]string // dotted key → the variable that set it
}

func newProblems(path string) *problems {
	return &problems{path: path, phase: phaseFile, lines: map[string]int{}, env: map[string]string{}}
}

// add records a fault of key.
func (p *problems) add(key, msg string) {
	p.errs = append(p.errs, &configError{Key: key, Msg: msg, phase: p.phase})
}

// addf records a fault of key with a formatted message.
func (p *problems) addf(key, format string, args ...any) { p.add(key, fmt.Sprintf(format, args...)) }

// addAt records a fault of key found at line of the file, which msg names.
func (p *problems) addAt(line int, key, msg string) {
	p.errs = append(p.errs, &configError{Key: key, Msg: msg, phase: p.phase, line: line})
}

// err is nil without faults, the fault itself when there is one, and
// configErrors otherwise. Faults that follow from an earlier step's fault
// of the same key are dropped; the rest say where the value came from.
func (p *problems) err() error {
	var kept []*configError
	for _, e := range p.errs {
		if !p.consequence(e) {
			kept = append(kept, e)
		}
	}
	for _, e := range kept {
		p.locate(e)
	}
	rank := schemaRanks()
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		la, lb := lineOrMax(a.line), lineOrMax(b.line)
		if la != lb {
			return la < lb
		}
		return keyRank(rank, a.Key) < keyRank(rank, b.Key)
	})
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	return configErrors(kept)
}

// consequence reports whether e is about a key that an earlier step
// already found at fault.
func (p *problems) consequence(e *configError) bool {
	for _, o := range p.errs {
		if o.phase < e.phase && keysOverlap(o.Key, e.Key) {
			return true
		}
	}
	return false
}

// locate sets where e's value came from: the variable that set it, or its
// line in the file. The file walk's own messages name their line already;
// later steps' messages get it (or the variable) added.
func (p *problems) locate(e *configError) {
	key := baseKey(e.Key)
	if name, ok := p.env[key]; ok {
		if !strings.Contains(e.Key+e.Msg, name) {
			e.Msg += " (from " + name + ")"
		}
		return
	}
	line, ok := p.lines[e.Key]
	if !ok {
		line, ok = p.lines[key]
	}
	if !ok || e.line != 0 {
		return
	}
	e.line = line
	if e.phase > phaseFile {
		e.Msg += fmt.Sprintf(" (%s line %d)", p.path, line)
	}
}

func lineOrMax(l int) int {
	if l == 0 {
		return int(^uint(0) >> 1)
	}
	return l
}

// baseKey is key without list indexes (session.secrets[1] →
// session.secrets): the key whose value is at fault.
func baseKey(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	return key
}

// keysOverlap reports whether a and b name the same value, or one a part
// of the other (legacy and legacy.whoami, session.secrets and
// session.secrets[1]); a secret and its file key count as the same.
func keysOverlap(a, b string) bool {
	a, b = strings.TrimSuffix(a, "_file"), strings.TrimSuffix(b, "_file")
	under := func(x, y string) bool {
		return x == y || strings.HasPrefix(y, x+".") || strings.HasPrefix(y, x+"[")
	}
	return under(a, b) || under(b, a)
}

// schemaRanks numbers every key of the Config schema in the order the
// struct (and the README's reference) lists them.
func schemaRanks() map[string]int {
	ranks := map[string]int{}
	for i, k := range schemaKeys(reflect.TypeFor[Config](), "") {
		ranks[k.key] = i
	}
	return ranks
}

// keyRank is the rank of key, or of the nearest enclosing key the schema
// has; keys the schema does not know (unknown keys, variables) come last.
func keyRank(ranks map[string]int, key string) int {
	key = baseKey(key)
	for key != "" {
		if r, ok := ranks[key]; ok {
			return r
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return len(ranks)
}

// schemaKey is one key of the schema: a section or a value.
type schemaKey struct {
	key   string              // dotted: session.ttl; list items of structs: admin.tokens[].name
	env   string              // HUBGATE_<PATH>; "" for keys inside lists
	field reflect.StructField // the Go field
	leaf  bool                // a value, not a section
}

// schemaKeys lists the keys of struct t under the dotted prefix, sections
// before their keys, in field order.
func schemaKeys(t reflect.Type, prefix string) []schemaKey {
	var out []schemaKey
	for i := range t.NumField() {
		f := t.Field(i)
		name, ok := yamlName(f)
		if !ok {
			continue
		}
		k := schemaKey{key: joinKey(prefix, name), field: f}
		if !strings.Contains(prefix, "[]") {
			k.env = envName(k.key)
		}
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[duration]():
			out = append(out, k)
			out = append(out, schemaKeys(f.Type, k.key)...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			k.leaf = true
			out = append(out, k)
			out = append(out, schemaKeys(f.Type.Elem(), k.key+"[]")...)
		default:
			k.leaf = true
			out = append(out, k)
		}
	}
	return out
}

// envName is the variable that sets the dotted key: HUBGATE_<PATH>.
func envName(key string) string {
	return "HUBGATE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}
