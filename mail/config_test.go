package mail

import (
	"context"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/hubgate/hubgate/mail/mailtest"
)

func TestNewRejects(t *testing.T) {
	const pw = "hunter2-Secret"
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty URL", Config{From: "a@b.c"}, "URL is empty"},
		{"bad scheme", Config{URL: "http://u:" + pw + "@mail:25", From: "a@b.c"}, `scheme "http"`},
		{"no host", Config{URL: "smtp://u:" + pw + "@:25", From: "a@b.c"}, "no host"},
		{"bad port", Config{URL: "smtp://u:" + pw + "@mail:99999", From: "a@b.c"}, "port"},
		{"path", Config{URL: "smtp://u:" + pw + "@mail/x", From: "a@b.c"}, "path"},
		{"unparsable", Config{URL: "smtp://u:" + pw + "%zz@mail", From: "a@b.c"}, "does not parse"},
		{"unknown parameter", Config{URL: "smtp://u:" + pw + "@mail?tls=yes", From: "a@b.c"}, `unknown parameter "tls"`},
		{"bad starttls", Config{URL: "smtp://u:" + pw + "@mail?starttls=maybe", From: "a@b.c"}, "starttls"},
		{"starttls on smtps", Config{URL: "smtps://u:" + pw + "@mail?starttls=required", From: "a@b.c"}, "starttls"},
		{"password without user", Config{URL: "smtp://:" + pw + "@mail", From: "a@b.c"}, "no user"},
		{"no From and no PublicURL", Config{URL: "smtp://u:" + pw + "@mail"}, "From is empty"},
		{"bad From", Config{URL: "smtp://mail", From: "hubgate"}, "From"},
		{"From with line break", Config{URL: "smtp://mail", From: "a@b.c\r\nBcc: x@y.z"}, "line break"},
		{"negative timeout", Config{URL: "smtp://mail", From: "a@b.c", Timeout: -time.Second}, "Timeout"},
		{"bad HelloName", Config{URL: "smtp://mail", From: "a@b.c", HelloName: "a b"}, "HelloName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want an error mentioning %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "mail: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	for _, tc := range []struct {
		cfg                  Config
		addr, from, server   string
		implicit, requireTLS bool
		user                 string
	}{
		{cfg: Config{URL: "smtp://user:pw@mail", PublicURL: "https://app.example.com/x"},
			addr: "mail:587", from: "<noreply@app.example.com>", server: "smtp://user:xxxxx@mail", user: "user"},
		{cfg: Config{URL: "smtps://mail", From: "hubgate <noreply@example.com>"},
			addr: "mail:465", from: `"hubgate" <noreply@example.com>`, server: "smtps://mail", implicit: true},
		{cfg: Config{URL: "smtp://[::1]:2525?starttls=required", From: "a@b.c"},
			addr: "[::1]:2525", from: "<a@b.c>", server: "smtp://[::1]:2525?starttls=required", requireTLS: true},
	} {
		s, err := New(tc.cfg)
		if err != nil {
			t.Errorf("New(%q) = %v", tc.cfg.URL, err)
			continue
		}
		if s.addr != tc.addr || s.from.String() != tc.from || s.server != tc.server ||
			s.implicit != tc.implicit || s.requireTLS != tc.requireTLS || s.user != tc.user {
			t.Errorf("New(%q) = addr %q from %q server %q implicit %v requireTLS %v user %q; want %q %q %q %v %v %q",
				tc.cfg.URL, s.addr, s.from, s.server, s.implicit, s.requireTLS, s.user,
				tc.addr, tc.from, tc.server, tc.implicit, tc.requireTLS, tc.user)
		}
		if s.timeout != DefaultTimeout || s.hello == "" || s.tls.ServerName == "" {
			t.Errorf("New(%q): timeout %v, hello %q, TLS server name %q; want defaults", tc.cfg.URL, s.timeout, s.hello, s.tls.ServerName)
		}
	}
}

// TestNoPasswordWithoutTLS sends to a server that is reachable on loopback
// but named as a remote host, with no STARTTLS: the password must not leave.
func TestNoPasswordWithoutTLS(t *testing.T) {
	srv := mailtest.NewServer(t)
	srv.RequireAuth("u", "p")
	s, err := New(Config{URL: "smtp://u:p@mail.example.org:587", From: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	s.addr = srv.Addr() // reach the test server under a non-loopback name
	err = s.Send(context.Background(), Message{To: "b@example.org", Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "refusing to send the password") {
		t.Fatalf("Send = %v; want a refusal to send the password in the clear", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d mails; want 0", n)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true,
		"mail.example.org": false, "10.0.0.1": false, "localhost.example.org": false, "": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v; want %v", host, got, want)
		}
	}
}

func TestMaskAddress(t *testing.T) {
	for in, want := range map[string]string{
		"anna@example.org":        "a***@example.org",
		"Anna <anna@example.org>": "a***@example.org",
		"ünal@example.org":        "ü***@example.org",
		"nobody":                  "***",
		"@example.org":            "***",
		"a@b.c\r\nBcc: x@y.z":     "***",
	} {
		if got := maskAddress(in); got != want {
			t.Errorf("maskAddress(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestHeaderFolding(t *testing.T) {
	from, _ := netmail.ParseAddress("hubgate <noreply@example.com>")
	long := strings.Repeat("word ", 40) + "end"
	env, err := compose(from, Message{To: "a@example.org", Subject: long, Text: "t"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(env.data), "\r\n\r\n")
	var subject string
	inSubject := false
	for _, line := range strings.Split(head, "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line has %d characters: %q", len(line), line)
		}
		switch {
		case strings.HasPrefix(line, "Subject: "):
			subject, inSubject = strings.TrimPrefix(line, "Subject: "), true
		case inSubject && strings.HasPrefix(line, " "):
			subject += line // unfolding: drop the CRLF, keep the space
		default:
			inSubject = false
		}
	}
	if subject != long {
		t.Errorf("unfolded Subject = %q; want %q", subject, long)
	}
}
