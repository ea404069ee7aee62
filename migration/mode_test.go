package migration

import "testing"

func TestParseMode(t *testing.T) {
	for _, m := range Modes {
		got, err := ParseMode(string(m))
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, nil", m, got, err, m)
		}
	}
	for _, bad := range []string{"", "Enforce", "enforce ", "off"} {
		if _, err := ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q): want an error", bad)
		} else if want := `migration: mode "` + bad + `", want passthrough, offer or enforce`; err.Error() != want {
			t.Errorf("ParseMode(%q) error = %q; want %q", bad, err, want)
		}
	}
}
