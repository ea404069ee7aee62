package main

// `hubgate config check` and `hubgate config print`: the configuration as
// hubgate would run it, checked or shown. print builds the YAML from the
// schema itself (every key, in the order of the README's reference) and
// masks every secret: the fields tagged secret:"value" whole, those tagged
// secret:"url" (the store, claims.smtp) in their passwords only.

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// secretMask stands for a secret in `config print`.
const secretMask = "***"

// configFlags parses the flags of config check and print.
func configFlags(name, help string, args []string, getenv func(string) string, stderr io.Writer) (string, error) {
	fs := newFlags(name, stderr)
	path := fs.String("config", getenv("HUBGATE_CONFIG"), "configuration `file` (YAML); env HUBGATE_CONFIG")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", usageError{fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	if *path == "" {
		return "", usageError{name + ": --config FILE is required"}
	}
	return *path, nil
}

// configCheck implements `hubgate config check`: every error at once
// (exit 1), else "FILE: ok" with a summary; warnings go to stderr.
func configCheck(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	path, err := configFlags("config check", `Usage: hubgate config check --config FILE

Loads the configuration as hubgate serve would (the file, HUBGATE_*
variables, *_file secrets, defaults) and reports every error at once,
each naming its key (exit 1), or "FILE: ok" and a summary. Warnings (plain
http outside loopback) go to stderr and do not fail the check.
`, args, getenv, stderr)
	if err != nil {
		return err
	}
	c, err := loadConfig(path, getenv)
	if err != nil {
		return err
	}
	kind, _, _ := parseStore(c.Store)
	fmt.Fprintf(stdout, "%s: ok (public %s → upstream %s, provider %s, store %s, mode %s)\n", path, c.PublicURL, c.Upstream, c.Provider.Kind, kind, c.Mode)
	for _, w := range c.warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return nil
}

// configPrint implements `hubgate config print`.
func configPrint(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	path, err := configFlags("config print", `Usage: hubgate config print --config FILE

Prints the effective configuration — the file, HUBGATE_* variables, *_file
secrets and defaults — as YAML, with every key. Secrets are masked ("***");
so is the password in the store and SMTP URLs. An invalid configuration
prints its errors instead (exit 1).
`, args, getenv, stderr)
	if err != nil {
		return err
	}
	c, err := loadConfig(path, getenv)
	if err != nil {
		return err
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: "effective configuration of " + path + " (file, environment, defaults); secrets masked",
		Content: []*yaml.Node{printNode(reflect.ValueOf(c).Elem(), "")}}
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("config print: %w", err)
	}
	return enc.Close()
}

// printNode is v, of the config's schema, as a YAML node; secret says how
// v is masked ("value", "url" or "" for not at all).
func printNode(v reflect.Value, secret string) *yaml.Node {
	switch {
	case v.Type() == reflect.TypeFor[duration]():
		return scalar(formatDuration(time.Duration(v.Int())), "!!str")
	case v.Kind() == reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, ok := yamlName(f)
			if !ok || f.Type.Kind() == reflect.Interface {
				continue
			}
			m.Content = append(m.Content, scalar(name, "!!str"), printNode(v.Field(i), f.Tag.Get("secret")))
		}
		return m
	case v.Kind() == reflect.Map:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		iter := v.MapRange()
		var keys []string
		vals := map[string]reflect.Value{}
		for iter.Next() {
			keys = append(keys, iter.Key().String())
			vals[iter.Key().String()] = iter.Value()
		}
		slices.SortFunc(keys, roleOrder)
		for _, k := range keys {
			m.Content = append(m.Content, scalar(k, "!!str"), printNode(vals[k], ""))
		}
		return m
	case v.Kind() == reflect.Slice:
		l := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
		for i := range v.Len() {
			if v.Index(i).Kind() == reflect.Struct {
				l.Style = 0
			}
			l.Content = append(l.Content, printNode(v.Index(i), secret))
		}
		return l
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return scalar("null", "!!null")
		}
		return printNode(v.Elem(), secret)
	case v.Kind() == reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool()), "!!bool")
	case v.Kind() == reflect.Int:
		return scalar(strconv.FormatInt(v.Int(), 10), "!!int")
	case v.Kind() == reflect.Float64:
		return scalar(strconv.FormatFloat(v.Float(), 'g', -1, 64), "!!float")
	}
	return scalar(maskSecret(v.String(), secret), "!!str")
}

// maskSecret masks s as the field's secret tag says.
func maskSecret(s, secret string) string {
	switch {
	case s == "" || secret == "":
		return s
	case secret == "url" && strings.Contains(s, "://"):
		return maskURL(s, secretMask)
	}
	return secretMask
}

func scalar(v, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v}
}

// formatDuration writes d as the config would: 12h, 1h30m, 90s, 14d.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// roleOrder sorts role names, "*" (the default) last.
func roleOrder(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "*":
		return 1
	case b == "*":
		return -1
	}
	return strings.Compare(a, b)
}
