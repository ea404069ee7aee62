package main

// The environment overlay: every key of the file can be set or overridden
// by HUBGATE_<PATH> (config.go says how), and secrets can be read from the
// files their *_file keys name, so that none need be in the file itself.

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// applyEnv walks the config struct and sets each leaf from HUBGATE_<PATH>.
func applyEnv(v reflect.Value, prefix, key string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + "_" + strings.ToUpper(tag)
		k := tag
		if key != "" {
			k = key + "." + tag
		}
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := applyEnv(fv, name, k, getenv); err != nil {
				return err
			}
			continue
		}
		val := getenv(name)
		if val == "" {
			continue
		}
		switch {
		case fv.Type() == reflect.TypeOf(duration(0)):
			d, err := parseDuration(val)
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: err.Error()}
			}
			fv.SetInt(int64(d))
		case fv.Kind() == reflect.String:
			fv.SetString(val)
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			var parts []string
			for _, p := range strings.Split(val, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			fv.Set(reflect.ValueOf(parts))
		case fv.Kind() == reflect.Int:
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: fmt.Sprintf("%q: want a whole number", val)}
			}
			fv.SetInt(int64(n))
		case fv.Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: "want true or false"}
			}
			fv.SetBool(b)
		case fv.Kind() == reflect.Pointer && fv.Type().Elem().Kind() == reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return &configError{Key: k + " (" + name + ")", Msg: "want true or false"}
			}
			fv.Set(reflect.ValueOf(&b))
		case fv.Kind() == reflect.Map:
			// roles: "owner=admin;member=user|viewer"
			m := map[string][]string{}
			for _, e := range strings.Split(val, ";") {
				z, locals, ok := strings.Cut(e, "=")
				if !ok {
					return &configError{Key: k + " (" + name + ")", Msg: "want zaikio_role=local|local;… entries"}
				}
				m[strings.TrimSpace(z)] = strings.Split(strings.TrimSpace(locals), "|")
			}
			fv.Set(reflect.ValueOf(m))
		}
	}
	return nil
}

// readSecretFiles reads each secret whose *_file key is set from that file
// (bounded: a device or a log file named by mistake fails at once).
func (c *Config) readSecretFiles() error {
	read := func(key, path string, dst *string) error {
		if path == "" {
			return nil
		}
		b, err := readBounded(path, maxSecretFile)
		if err != nil {
			return &configError{Key: key, Msg: err.Error()}
		}
		*dst = strings.TrimSpace(string(b))
		return nil
	}
	if err := read("provider.client_secret_file", c.Provider.ClientSecretFile, &c.Provider.ClientSecret); err != nil {
		return err
	}
	if err := read("provider.webhook_secret_file", c.Provider.WebhookSecretFile, &c.Provider.WebhookSecret); err != nil {
		return err
	}
	if err := read("admin.token_file", c.Admin.TokenFile, &c.Admin.Token); err != nil {
		return err
	}
	if err := read("claims.smtp_file", c.Claims.SMTPFile, &c.Claims.SMTP); err != nil {
		return err
	}
	if c.Session.SecretsFile != "" {
		var all string
		if err := read("session.secrets_file", c.Session.SecretsFile, &all); err != nil {
			return err
		}
		c.Session.Secrets = strings.Fields(all)
	}
	return nil
}
