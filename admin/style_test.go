package admin_test

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDashboardContrast: the dashboard's form fields have a boundary of
// 3:1 against the card (WCAG 2.2 1.4.11) and its mode badges' text 4.5:1
// against their background (1.4.3).
func TestDashboardContrast(t *testing.T) {
	b, err := os.ReadFile("templates/style.css")
	if err != nil {
		t.Fatal(err)
	}
	css := string(b)
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(--[a-z-]+):#([0-9a-f]{6}|[0-9a-f]{3})\b`).FindAllStringSubmatch(css, -1) {
		c := m[2]
		if len(c) == 3 {
			c = string([]byte{c[0], c[0], c[1], c[1], c[2], c[2]})
		}
		vars[m[1]] = "#" + c
	}
	prop := func(sel, name string) string {
		t.Helper()
		r := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sel) + `\{([^}]*)\}`).FindStringSubmatch(css)
		if r == nil {
			t.Fatalf("no rule %s", sel)
		}
		m := regexp.MustCompile(`(?:^|;)` + name + `:([^;]*)`).FindStringSubmatch(r[1])
		if m == nil {
			t.Fatalf("no %s in %s", name, sel)
		}
		f := strings.Fields(m[1])
		c := f[len(f)-1]
		if v, ok := strings.CutPrefix(c, "var("); ok {
			c = vars[strings.TrimSuffix(v, ")")]
		}
		return c
	}
	card := vars["--card"]
	for _, tc := range []struct {
		what   string
		fg, bg string
		min    float64
	}{
		{"form field border", prop("input[type=password],input[type=text]", "border"), card, 3},
		{"offer badge", prop(".badge.offer", "color"), prop(".badge.offer", "background"), 4.5},
		{"enforce badge", prop(".badge.enforce", "color"), prop(".badge.enforce", "background"), 4.5},
		{"muted text", vars["--muted"], card, 4.5},
		{"secondary button boundary", prop(".btn.secondary", "box-shadow"), card, 3},
	} {
		if got := ratio(t, tc.fg, tc.bg); got < tc.min {
			t.Errorf("%s: %s on %s = %.2f:1; want at least %.1f:1", tc.what, tc.fg, tc.bg, got, tc.min)
		}
	}
}

// ratio is the WCAG contrast ratio of two #rrggbb colors.
func ratio(t *testing.T, a, b string) float64 {
	t.Helper()
	lum := func(hex string) float64 {
		hex = strings.TrimPrefix(hex, "#")
		if len(hex) != 6 {
			t.Fatalf("color %q: want #rrggbb", hex)
		}
		var l float64
		for i, w := range []float64{0.2126, 0.7152, 0.0722} {
			n, _ := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
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
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}
