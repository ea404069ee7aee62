package main

// The environment overlay: every key of the file can be set or overridden
// by HUBGATE_<PATH> (config.go says how), and secrets can be read from the
// files their *_file keys name, so that none need be in the file itself.
// A HUBGATE_* variable that is neither a key's nor one of otherEnv is an
// error: a typo (HUBGATE_SESION_TTL) must not pass silently.

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// otherEnv are the HUBGATE_* variables hubgate reads (or that its tests
// and tools set for it) that are not configuration keys, with what they
// are for. This is the one list of them: every other HUBGATE_* variable
// must be HUBGATE_<PATH> of a key.
func otherEnv() map[string]string {
	return map[string]string{
		"HUBGATE_CONFIG":         "the config file of serve, config check, config print and healthcheck when --config is not given",
		"HUBGATE_ADMIN_URL":      "operator commands: the admin API's URL (--admin-url)",
		"HUBGATE_MIGRATE_TO":     "migrate-store: the target store URL (--to), kept out of ps",
		"HUBGATE_TEST_POSTGRES":  "tests: the PostgreSQL database the tests use",
		"HUBGATE_ARTIFACTS":      "tests: where browser tests leave screenshots",
		"HUBGATE_BENCH_MEMSTATS": "bench: the memory statistics listener of a benchmarked hubgate",
		"HUBGATE_PG_DIR":         ".ci/start-postgres: the throw-away cluster's folder",
		"HUBGATE_PG_PORT":        ".ci/start-postgres: the cluster's port",
	}
}

// envNamesKey is what hubgate asks getenv for to learn which HUBGATE_*
// variables are set, newline-separated: no environment variable can have
// this name (names never hold "="), so a getenv that does not know it (a
// test's map) answers "" and the check finds nothing. main's getenv
// answers from os.Environ (processEnv).
const envNamesKey = "=HUBGATE_*"

// checkEnvNames reports every HUBGATE_* variable that is set and is
// neither a key's nor one of otherEnv, with the name it was probably
// meant to be.
func checkEnvNames(getenv func(string) string, p *problems) {
	known := map[string]bool{}
	for _, k := range schemaKeys(reflect.TypeFor[Config](), "") {
		if k.leaf && k.env != "" {
			known[k.env] = true
		}
	}
	for name := range otherEnv() {
		known[name] = true
	}
	names := strings.Fields(getenv(envNamesKey))
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		if !strings.HasPrefix(name, "HUBGATE_") || known[name] {
			continue
		}
		msg := "unknown environment variable (no key has this name; see the README's reference)"
		if near := nearestEnv(name, known); near != "" {
			msg += "; did you mean " + near + "?"
		}
		p.add(name, msg)
	}
}

// nearestEnv is the known name closest to name, if it is close enough to
// be a typo of it (two edits, more for long names), or "".
func nearestEnv(name string, known map[string]bool) string {
	best, bestD := "", max(2, len(strings.TrimPrefix(name, "HUBGATE_"))/4)+1
	for k := range known {
		if d := editDistance(name, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	return best
}

// applyEnv walks the config struct and sets each leaf from HUBGATE_<PATH>,
// adding a fault for each value that does not parse and noting in p which
// variable set which key.
func applyEnv(v reflect.Value, prefix, key string, getenv func(string) string, p *problems) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		k := joinKey(key, tag)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[duration]() {
			applyEnv(fv, name, k, getenv, p)
			continue
		}
		val := getenv(name)
		if val == "" {
			continue
		}
		p.env[k] = name
		if err := setFromEnv(fv, val); err != "" {
			p.add(k+" ("+name+")", err)
		}
	}
}

// setFromEnv sets the field fv from the variable's value val; it returns
// what is wrong with val, or "".
func setFromEnv(fv reflect.Value, val string) string {
	switch {
	case fv.Type() == reflect.TypeFor[duration]():
		d, err := parseDuration(val)
		if err != nil {
			return err.Error()
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(val)
	case fv.Type() == reflect.TypeFor[[]adminToken]():
		tokens, err := parseEnvTokens(val)
		if err != "" {
			return err
		}
		fv.Set(reflect.ValueOf(tokens))
	case fv.Type() == reflect.TypeFor[[]routeRule]():
		routes, err := parseEnvRoutes(val)
		if err != "" {
			return err
		}
		fv.Set(reflect.ValueOf(routes))
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		fv.Set(reflect.ValueOf(splitList(val, ",")))
	case fv.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			return fmt.Sprintf("%q: want a whole number", val)
		}
		fv.SetInt(int64(n))
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return "want true or false"
		}
		fv.SetBool(b)
	case fv.Type() == reflect.TypeFor[*duration]():
		d, err := parseDuration(val)
		if err != nil {
			return err.Error()
		}
		v := duration(d)
		fv.Set(reflect.ValueOf(&v))
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return fmt.Sprintf("%q: want a number such as 0.25", val)
		}
		fv.Set(reflect.ValueOf(&f))
	case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return "want true or false"
		}
		fv.Set(reflect.ValueOf(&b))
	case fv.Type() == reflect.TypeFor[map[string]string]():
		// provider.auth_params: "access_type=offline;prompt=consent"
		m := map[string]string{}
		for _, e := range splitList(val, ";") {
			k, v, ok := strings.Cut(e, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return "want name=value;… entries"
			}
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		fv.Set(reflect.ValueOf(m))
	case fv.Type() == reflect.TypeFor[[]membershipRule]():
		return "the environment has no form for the rules: set them in the config file"
	case fv.Kind() == reflect.Map:
		// roles: "owner=admin;member=user|viewer"
		m := map[string][]string{}
		for _, e := range strings.Split(val, ";") {
			z, locals, ok := strings.Cut(e, "=")
			if !ok {
				return "want zaikio_role=local|local;… entries"
			}
			m[strings.TrimSpace(z)] = strings.Split(strings.TrimSpace(locals), "|")
		}
		fv.Set(reflect.ValueOf(m))
	}
	return ""
}

// splitList splits a list value at sep, dropping blanks.
func splitList(val, sep string) []string {
	var parts []string
	for _, p := range strings.Split(val, sep) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return parts
}

// parseEnvTokens reads HUBGATE_ADMIN_TOKENS: comma-separated
// name:role:token_file entries. The tokens themselves stay in files: a
// variable is no place for several secrets.
func parseEnvTokens(val string) ([]adminToken, string) {
	var out []adminToken
	for i, e := range splitList(val, ",") {
		parts := strings.SplitN(e, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
			return nil, fmt.Sprintf("entry %d: want name:role:token_file entries, comma-separated", i+1)
		}
		out = append(out, adminToken{Name: parts[0], Role: parts[1], TokenFile: parts[2]})
	}
	return out, ""
}

// secretField is a secret and the key of the file that may hold it.
type secretField struct {
	key, fileKey string
	value        reflect.Value // the secret: a string or a []string
	file         string        // the file's path; "" when not given
}

// secretFields lists every secret of c that has a *_file key: the fields
// tagged secret, and the token of each admin.tokens entry.
func (c *Config) secretFields() []secretField {
	var out []secretField
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := yamlName(f)
			if !ok {
				continue
			}
			key, fv := joinKey(prefix, name), v.Field(i)
			switch {
			case fv.Type() == reflect.TypeFor[[]adminToken]():
				for j := range fv.Len() {
					walk(fv.Index(j), fmt.Sprintf("%s[%d]", key, j))
				}
			case fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeFor[duration]():
				walk(fv, key)
			case f.Tag.Get("secret") != "":
				ff, ok := fileField(t, name)
				if !ok {
					continue
				}
				out = append(out, secretField{key: key, fileKey: key + "_file", value: fv, file: v.FieldByIndex(ff.Index).String()})
			}
		}
	}
	walk(reflect.ValueOf(c).Elem(), "")
	return out
}

// fileField is the *_file field of struct t for the secret called name.
func fileField(t reflect.Type, name string) (reflect.StructField, bool) {
	return yamlField(t, name+"_file")
}

// readSecretFiles reads each secret whose *_file key is set from that file
// (bounded: a device or a log file named by mistake fails at once). A
// secret given both inline and as a file is an error: which one should
// win is not for hubgate to guess.
func (c *Config) readSecretFiles(p *problems) {
	for _, s := range c.secretFields() {
		if s.file == "" {
			continue
		}
		if !s.value.IsZero() {
			p.addf(s.fileKey, "both %s and %s are set: keep one", s.key, s.fileKey)
			continue
		}
		b, err := readBounded(s.file, maxSecretFile)
		if err != nil {
			p.add(s.fileKey, err.Error())
			continue
		}
		if s.value.Kind() == reflect.Slice {
			s.value.Set(reflect.ValueOf(strings.Fields(string(b))))
		} else {
			s.value.SetString(strings.TrimSpace(string(b)))
		}
	}
}
