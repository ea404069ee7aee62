package proxy

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestClosedBy: a closing rule matches every spelling an upstream routes to
// it, and nothing else.
func TestClosedBy(t *testing.T) {
	for _, tc := range []struct {
		rule string
		yes  []string
		no   []string
	}{
		{"/login",
			[]string{"/login", "/LOGIN", "/Login", "/login/", "/login;jsessionid=1", "/login;x/", "/;x/login", "/login.json", "/Login.JSON/",
				"/login.json.xml", "/login.", "/login ", "/login\\", "/\\login", "/login.json;x", "/logın", "/LOGİN", "/%6cogin", "/%4COGIN",
				"/%256cogin", "/%25256cogin", "/lo%67in", "/login%2f", "/login%3bx"},
			[]string{"/", "/log", "/logins", "/loginx", "/blogin", "/x/login", "/login/x", "/login/x.json", "/log/in", "/log%in", "/%zzlogin", "/.login", "/login-help"}},
		{"/users/sign_in",
			[]string{"/users/sign_in", "/Users/Sign_In", "/users/sign_in.json", "/users;x/sign_in", "/users/sign_in/", "/users//sign_in", "/users\\sign_in"},
			[]string{"/users", "/users/sign_in/x", "/users.json/sign_in", "/users/sign_inx", "/sign_in", "/x/users/sign_in"}},
		{"/admin/",
			[]string{"/admin", "/admin/", "/ADMIN/x", "/admin.json", "/admin;x/y", "/Admin/deep/er.json", "/admin\\x"},
			[]string{"/adminx", "/x/admin/", "/admin.json/x", "/adm"}},
		{"/login.php",
			[]string{"/login.php", "/LOGIN.PHP", "/login.php/x", "/login.php/", "/login.php;x", "/Login.PHP/a/b", "/login.php.", "/login"},
			[]string{"/x/login.php", "/login.phpx/y", "/loginphp"}},
		{"/session",
			[]string{"/ſession", "/SESSION"},
			[]string{"/sessiom"}},
		{"/kiosk",
			[]string{"/\u212aiosk", "/KIOSK"},
			[]string{"/kiosque"}},
		{"/_hubgate/",
			[]string{"/_hubgate", "/_HUBGATE/x", "/_Hubgate/claim/t", "/_hubgate;x/claim", "/_hubgate.json", "/_hubgate\\claim", "/%5fhubgate/claim", "/_hub%67ate", "/_hub%2567ate/x"},
			[]string{"/_hubgatex", "/x/_hubgate", "/_hubgate.json/x", "/hubgate", "/_hub/gate"}},
	} {
		for _, p := range tc.yes {
			if !closedBy(p, []string{tc.rule}) {
				t.Errorf("closedBy(%q, %q) = false; want true", p, tc.rule)
			}
		}
		for _, p := range tc.no {
			if closedBy(p, []string{tc.rule}) {
				t.Errorf("closedBy(%q, %q) = true; want false", p, tc.rule)
			}
		}
	}
	if closedBy("/login", nil) {
		t.Error("closedBy with no rules = true")
	}
}

// TestOpenedBy: an opening rule matches the path as written only, in the
// decoded and the raw form; no spelling makes it wider.
func TestOpenedBy(t *testing.T) {
	rules := []string{"/assets/", "/docs"}
	for _, tc := range []struct {
		target string
		want   bool
	}{
		{"/assets/app.css", true}, {"/assets", true}, {"/assets/a%2Fb.css", true}, {"/docs", true},
		{"/ASSETS/app.css", false}, {"/Assets", false}, {"/assets;x/app.css", false}, {"/assets.json", false}, {"/assets%2Fx", false},
		{"/docs/", false}, {"/Docs", false}, {"/docs.json", false}, {"/docs;x", false}, {"/docsx", false}, {"/x/assets/y", false},
	} {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := openedBy(u, u.Path, rules); got != tc.want {
			t.Errorf("openedBy(%q) = %v; want %v", tc.target, got, tc.want)
		}
	}
}

// TestPathRulesDoNotAllocate: the gate's path decisions cost no allocation
// for a clean path (the hot path).
func TestPathRulesDoNotAllocate(t *testing.T) {
	login, public := []string{"/login", "/users/sign_in", "/admin/login/"}, []string{"/assets/", "/favicon.ico"}
	u := &url.URL{Path: "/reports/2026/q1"}
	var sink bool
	for _, p := range []string{"/reports/2026/q1", "/Login.json", "/assets/app.css", "/"} {
		if n := testing.AllocsPerRun(100, func() {
			sink = closedBy(p, login) || ownSpelling(p) || openedBy(u, p, public)
			_ = maskPath(p)
		}); n != 0 {
			t.Errorf("path rules on %q: %v allocations; want 0", p, n)
		}
	}
	_ = sink
}

// FuzzClosedBy builds spellings of a rule the way upstream frameworks accept
// them (letter case, trailing slash, ";params", ".format", "\", percent-
// encoding, dot segments in front) and sends them through normalizePath:
// whatever normalizes must still be closed by the rule.
func FuzzClosedBy(f *testing.F) {
	f.Add("login", uint64(0), uint8(0), "json")
	f.Add("users/sign_in", uint64(0xff), uint8(0x7f), "xml")
	f.Add("a", uint64(1), uint8(0x55), "")
	f.Fuzz(func(t *testing.T, word string, upper uint64, flags uint8, ext string) {
		word = keep(word, "abcdefghijklmnopqrstuvwxyz0123456789_-/")
		word = strings.Trim(word, "/")
		if word == "" || strings.Contains(word, "//") || len(word) > 40 {
			return
		}
		rule := "/" + word
		var b strings.Builder
		if flags&8 != 0 {
			b.WriteString("/x/..")
		}
		segs := strings.Split(word, "/")
		for i, seg := range segs {
			b.WriteString("/")
			if flags&16 != 0 {
				b.WriteString("/")
			}
			for j := 0; j < len(seg); j++ {
				c := seg[j]
				switch {
				case upper&(1<<((i*8+j)%64)) != 0 && c >= 'a' && c <= 'z':
					c -= 'a' - 'A'
				case flags&32 != 0 && j == 0:
					b.WriteString("%" + strings.ToUpper(hex2(c)))
					continue
				}
				b.WriteByte(c)
			}
			if flags&2 != 0 {
				b.WriteString(";p=1")
			}
		}
		if e := keep(ext, "abcdefghijklmnopqrstuvwxyz"); flags&4 != 0 && e != "" {
			b.WriteString("." + e)
		}
		if flags&1 != 0 {
			b.WriteString("/")
		}
		if flags&64 != 0 {
			b.WriteString("%5c")
		}
		target := b.String()
		req, err := httpRequest(target)
		if err != nil {
			return
		}
		p, ok := normalizePath(req)
		if !ok {
			return
		}
		if !closedBy(p, []string{rule}) {
			t.Fatalf("%q (normalized %q) is a spelling of %q, but closedBy says no", target, p, rule)
		}
	})
}

// FuzzPathRules: on any request target that normalizePath accepts, a path
// that an opening rule opens is also closed by the same rule as a closing
// rule (closing is the wider reading), and a closing rule ignores ASCII
// letter case and a trailing slash.
func FuzzPathRules(f *testing.F) {
	for _, s := range []string{"/", "/assets/app.css", "/Assets/x", "/docs", "/docs/", "/login", "/LOGIN.json", "/admin;x/y", "/assets%2fx",
		"/%256cogin", "/a\\b", "/ſ", "/login%", "/x%2"} {
		f.Add(s)
	}
	rules := []string{"/assets/", "/docs", "/login", "/admin/", "/x.php"}
	f.Fuzz(func(t *testing.T, target string) {
		req, err := httpRequest(target)
		if err != nil {
			return
		}
		p, ok := normalizePath(req)
		if !ok {
			return
		}
		if openedBy(req.URL, p, rules) && !closedBy(p, rules) {
			t.Fatalf("%q (normalized %q) is opened but not closed by %q", target, p, rules)
		}
		got := closedBy(p, rules)
		for _, v := range []string{upperASCII(p), p + "/"} {
			if closedBy(v, rules) != got {
				t.Fatalf("closedBy(%q) = %v but closedBy(%q) = %v", p, got, v, !got)
			}
		}
	})
}

// httpRequest parses target as the server would.
func httpRequest(target string) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
}

func keep(s, allowed string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(allowed, r) {
			return r
		}
		return -1
	}, strings.ToLower(s))
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

func upperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// BenchmarkPathRules is the gate's per-request path work on a clean path in
// enforce mode without a session: hubgate's namespace, three login rules,
// two public rules, and the access log's masking.
func BenchmarkPathRules(b *testing.B) {
	login, public := []string{"/login", "/users/sign_in", "/admin/login/"}, []string{"/assets/", "/favicon.ico"}
	u := &url.URL{Path: "/reports/2026/q1"}
	b.ReportAllocs()
	for b.Loop() {
		_ = ownSpelling(u.Path) || closedBy(u.Path, login) || openedBy(u, u.Path, public)
		_ = maskPath(u.Path)
	}
}
