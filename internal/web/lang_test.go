package web

import (
	"net/http/httptest"
	"testing"
)

func TestLang(t *testing.T) {
	tests := []struct {
		name   string
		header []string // Accept-Language fields; nil: none sent
		want   string
	}{
		{"no header", nil, "en"},
		{"empty", []string{""}, "en"},
		{"German", []string{"de"}, "de"},
		{"English", []string{"en"}, "en"},
		{"region subtag", []string{"de-AT"}, "de"},
		{"any case", []string{"DE-de"}, "de"},
		{"unsupported only", []string{"fr-FR, fr;q=0.9"}, "en"},
		{"unsupported first", []string{"fr, de;q=0.8, en;q=0.5"}, "de"},
		{"browser default, German", []string{"de-DE,de;q=0.9,en;q=0.5"}, "de"},
		{"browser default, English", []string{"en-US,en;q=0.9,de;q=0.8"}, "en"},
		{"q-values out of order", []string{"en;q=0.3, de;q=0.7"}, "de"},
		{"ties go to the first named", []string{"de, en"}, "de"},
		{"ties go to the first named, q", []string{"en;q=0.5, de;q=0.5"}, "en"},
		{"the highest q of a language counts", []string{"de-CH;q=0.2, en;q=0.5, de;q=0.9"}, "de"},
		{"q=0 refuses", []string{"de;q=0, en;q=0.1"}, "en"},
		{"q=0 refuses the default too", []string{"en;q=0, fr"}, "en"}, // nothing acceptable: the default
		{"wildcard", []string{"fr, *;q=0.5"}, "en"},
		{"wildcard with the default refused", []string{"en;q=0, *"}, "de"},
		{"named beats wildcard", []string{"*;q=0.9, de"}, "de"},
		{"spaces and parameter case", []string{" en ; Q=0.2 ,  de ; q = 0.4 "}, "de"},
		{"three decimals", []string{"en;q=0.501, de;q=0.5"}, "en"},
		{"q=1.000", []string{"en;q=0.9, de;q=1.000"}, "de"},
		{"malformed q skipped", []string{"de;q=high, en;q=0.1"}, "en"},
		{"q above 1 skipped", []string{"de;q=2, en;q=0.1"}, "en"},
		{"four decimals skipped", []string{"de;q=0.5000, en;q=0.1"}, "en"},
		{"NaN skipped", []string{"de;q=NaN, en;q=0.1"}, "en"},
		{"empty elements", []string{",,de;q=0.5,,"}, "de"},
		{"several fields", []string{"en;q=0.1", "de;q=0.2"}, "de"},
		{"prefix that is not a subtag", []string{"deu"}, "en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range tt.header {
				r.Header.Add("Accept-Language", v)
			}
			if got := Lang(r, "en", "de"); got != tt.want {
				t.Errorf("Lang(Accept-Language %q, en, de) = %q; want %q", tt.header, got, tt.want)
			}
		})
	}
}

func TestLangNoAllocs(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", "fr-CH, fr;q=0.9, de;q=0.8, en;q=0.7, *;q=0.5")
	if n := testing.AllocsPerRun(100, func() { _ = Lang(r, "en", "de") }); n != 0 {
		t.Errorf("Lang: %v allocations; want 0", n)
	}
}

// FuzzLang: whatever a client sends, negotiation answers one of the
// supported languages and never panics.
func FuzzLang(f *testing.F) {
	for _, seed := range []string{"", "de-DE,de;q=0.9,en;q=0.5", "*;q=0.5, en;q=0", "de;q=1.0001", ";;;,,,=", "de;q=0.;q=", "en;q=0\x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Accept-Language"] = []string{header}
		if got := Lang(r, "en", "de"); got != "en" && got != "de" {
			t.Fatalf("Lang(%q) = %q; want en or de", header, got)
		}
	})
}
