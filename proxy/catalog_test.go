package proxy

import (
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCatalogComplete: every text a page can show exists in English and
// German, with the same %s verbs; every key a template, the error funnel
// or the Go code asks for exists.
func TestCatalogComplete(t *testing.T) {
	en, de := catalog["en"], catalog["de"]
	for _, pair := range []struct {
		name     string
		from, to map[string]string
	}{{"de", en, de}, {"en", de, en}} {
		for k, v := range pair.from {
			w, ok := pair.to[k]
			switch {
			case !ok:
				t.Errorf("key %q has no %s text", k, pair.name)
			case strings.TrimSpace(w) == "" || strings.TrimSpace(v) == "":
				t.Errorf("key %q is empty in one language", k)
			case strings.Count(v, "%s") != strings.Count(w, "%s"):
				t.Errorf("key %q: %d %%s in one language, %d in the other", k, strings.Count(v, "%s"), strings.Count(w, "%s"))
			}
		}
	}

	used := map[string]string{} // key → where
	tmplKey := regexp.MustCompile(`\.L\.[TF] "([^"]+)"`)
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".html") {
			return err
		}
		b, err := templateFS.ReadFile(path)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Error keys from the Go code: every pageError's key has a title and a
	// body; texts the code looks up itself exist.
	errKey := regexp.MustCompile(`key:\s*"([a-z_]+)"|key := "([a-z_]+)"|key = "([a-z_]+)"|st, key = [^,]+, "([a-z_]+)"`)
	goKey := regexp.MustCompile(`\.[TF]\("([a-z_.]*[a-z_])"[,)]`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range errKey.FindAllStringSubmatch(string(b), -1) {
			k := strings.Join(m[1:], "")
			used["error."+k+".title"], used["error."+k+".body"] = f, f
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	for k := range deadLinkKeys {
		used["error."+k+".title"], used["error."+k+".body"] = "deadLinkKeys", "deadLinkKeys"
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k, where := range used {
		if _, ok := en[k]; !ok {
			t.Errorf("%s asks for %q, which the catalog lacks", where, k)
		}
	}
}

// cssVars reads the custom properties of a stylesheet's :root rule.
func cssVars(t *testing.T, css string) map[string]string {
	t.Helper()
	m := regexp.MustCompile(`:root\{([^}]*)\}`).FindStringSubmatch(css)
	if m == nil {
		t.Fatal("no :root rule")
	}
	vars := map[string]string{}
	for _, decl := range strings.Split(m[1], ";") {
		if k, v, ok := strings.Cut(decl, ":"); ok {
			vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return vars
}

// luminance is the relative luminance of #rrggbb (WCAG 2.2).
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	hex = strings.TrimPrefix(hex, "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	if len(hex) != 6 {
		t.Fatalf("color %q: want #rrggbb", hex)
	}
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		n, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			t.Fatalf("color %q: %v", hex, err)
		}
		c := float64(n) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		l += w * c
	}
	return l
}

// contrast is the WCAG contrast ratio of two colors.
func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// TestStyleContrast: the pages' colors meet WCAG 2.2 AA: text 4.5:1
// against what it is shown on (1.4.3), and the boundaries of form fields
// and of secondary buttons 3:1 against the card (1.4.11, non-text
// contrast).
func TestStyleContrast(t *testing.T) {
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	v := cssVars(t, s)
	color := func(name string) string {
		c, ok := v[name]
		if !ok {
			t.Fatalf("no %s in :root", name)
		}
		return c
	}
	rule := func(sel string) string {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sel) + `\{([^}]*)\}`).FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("no rule %s", sel)
		}
		return m[1]
	}
	resolve := func(c string) string {
		if name, ok := strings.CutPrefix(c, "var("); ok {
			return color(strings.TrimSuffix(name, ")"))
		}
		return c
	}
	colorIn := func(decls, prop string) string {
		m := regexp.MustCompile(`(?:^|;)` + regexp.QuoteMeta(prop) + `:([^;]*)`).FindStringSubmatch(decls)
		if m == nil {
			t.Fatalf("no %s in %q", prop, decls)
		}
		f := strings.Fields(m[1])
		return resolve(f[len(f)-1])
	}
	card := color("--card")
	for _, tc := range []struct {
		what   string
		fg, bg string
		min    float64
	}{
		{"text on the card", color("--fg"), card, 4.5},
		{"muted text on the card", color("--muted"), card, 4.5},
		{"muted text on the page", color("--muted"), color("--bg"), 4.5},
		{"button text", color("--accent-fg"), color("--accent"), 4.5},
		{"secondary button text", resolve(colorIn(rule(".btn.secondary"), "color")), colorIn(rule(".btn.secondary"), "background"), 4.5},
		{"links", colorIn(rule("a"), "color"), card, 4.5},
		{"text on a notice", color("--fg"), colorIn(rule(".notice"), "background"), 4.5},
		{"text on a warning", color("--fg"), colorIn(rule(".notice.warn"), "background"), 4.5},
		{"text on a success notice", color("--fg"), colorIn(rule(".notice.ok"), "background"), 4.5},
		{"form field border", colorIn(rule("input[type=email],input[type=text]"), "border"), card, 3},
		{"secondary button boundary", colorIn(rule(".btn.secondary"), "box-shadow"), card, 3},
		{"focus outline", colorIn(rule(":focus-visible"), "outline"), card, 3},
	} {
		if got := contrast(t, tc.fg, tc.bg); got < tc.min {
			t.Errorf("%s: %s on %s has contrast %.2f:1; want at least %.1f:1", tc.what, tc.fg, tc.bg, got, tc.min)
		}
	}
	if !slices.ContainsFunc(strings.Split(s, "\n"), func(l string) bool { return strings.HasPrefix(l, ":focus-visible{") }) {
		t.Error("no visible focus style")
	}
}
