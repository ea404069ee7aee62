package admin

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"testing"
)

// TestCatalog checks that English and German have the same texts and that
// every text the templates and the code name exists.
func TestCatalog(t *testing.T) {
	en, de := slices.Sorted(maps.Keys(catalog["en"])), slices.Sorted(maps.Keys(catalog["de"]))
	for _, k := range en {
		if _, ok := catalog["de"][k]; !ok {
			t.Errorf("German lacks %q", k)
		}
	}
	for _, k := range de {
		if _, ok := catalog["en"][k]; !ok {
			t.Errorf("English lacks %q", k)
		}
	}
	used := regexp.MustCompile(`\.(?:T|F) "([a-z_.]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := catalog["en"][m[1]]; !ok {
				t.Errorf("%s names the missing text %q", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"error.csrf", "error.unauthorized", "error.bad_request", "error.too_large", "error.internal", "error.timeout", "error.not_found"} {
		for _, part := range []string{".title", ".body"} {
			if _, ok := catalog["en"][key+part]; !ok {
				t.Errorf("catalog lacks %s%s", key, part)
			}
		}
	}
}

func TestLocaleFormats(t *testing.T) {
	tests := []struct {
		l        locale
		n        int
		p        float64
		num, pct string
	}{
		{"en", 0, 0, "0", "0.0 %"},
		{"en", 1234567, 42.5, "1,234,567", "42.5 %"},
		{"de", 1234567, 42.5, "1.234.567", "42,5 %"},
		{"de", 999, 100, "999", "100,0 %"},
		{"en", -1200, 33.3, "-1,200", "33.3 %"},
	}
	for _, tt := range tests {
		if got := tt.l.Num(tt.n); got != tt.num {
			t.Errorf("locale(%s).Num(%d) = %q; want %q", tt.l, tt.n, got, tt.num)
		}
		if got := tt.l.Pct(tt.p); got != tt.pct {
			t.Errorf("locale(%s).Pct(%v) = %q; want %q", tt.l, tt.p, got, tt.pct)
		}
	}
}

func TestAxisScale(t *testing.T) {
	tests := []struct{ peak, step, top int }{
		{0, 1, 1}, {1, 1, 1}, {3, 1, 3}, {4, 1, 4}, {5, 2, 6}, {8, 2, 8}, {9, 5, 10},
		{20, 5, 20}, {21, 10, 30}, {137, 50, 150}, {1000, 500, 1000}, {1001, 500, 1500},
	}
	for _, tt := range tests {
		if step, top := axisScale(tt.peak); step != tt.step || top != tt.top {
			t.Errorf("axisScale(%d) = %d, %d; want %d, %d", tt.peak, step, top, tt.step, tt.top)
		}
	}
}
