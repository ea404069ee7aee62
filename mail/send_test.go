package mail_test

import (
	"context"
	"errors"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
)

const testFrom = "hubgate <noreply@example.com>"

// newSender returns a Sender for rawURL, failing the test on error.
func newSender(t *testing.T, cfg mail.Config) *mail.Sender {
	t.Helper()
	if cfg.From == "" && cfg.PublicURL == "" {
		cfg.From = testFrom
	}
	s, err := mail.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v) = %v", cfg, err)
	}
	return s
}

// withUser returns rawURL with user and password added.
func withUser(t *testing.T, rawURL, user, pw string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pw)
	return u.String()
}

func TestSend(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSender(t, mail.Config{URL: srv.URL()})

	// Lines that test the wire format: dot-stuffing (RFC 5321 §4.5.2),
	// quoted-printable soft breaks, "=" and trailing spaces, non-ASCII.
	text := "Hello Anna,\n\n.\n.leading dot\ntrailing spaces   \nequals = sign, 100% ok\n" +
		strings.Repeat("a long line ", 20) + "\nÄÖÜ ß € 🎉\n"
	html := `<p style="color:#333">Hello <b>Anna</b> – ÄÖÜ</p>` + "\n<p>" + strings.Repeat("x", 200) + "</p>\n"
	m := mail.Message{To: "Anna Müller <anna@example.org>", Subject: "Plain ASCII subject", Text: text, HTML: html}
	before := time.Now().Add(-time.Second)
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.Err != nil {
		t.Fatalf("received mail does not parse: %v", got.Err)
	}
	if got.From != "noreply@example.com" || !cmp.Equal(got.To, []string{"anna@example.org"}) {
		t.Errorf("envelope = %q → %q; want noreply@example.com → [anna@example.org]", got.From, got.To)
	}
	for _, h := range []string{"From", "To", "Subject", "Date", "Message-Id", "Mime-Version"} {
		if got.Header.Get(h) == "" {
			t.Errorf("header %s missing in\n%s", h, got.Data)
		}
	}
	if got, want := got.Header.Get("From"), `"hubgate" <noreply@example.com>`; got != want {
		t.Errorf("From = %q; want %q", got, want)
	}
	if to, err := got.Header.AddressList("To"); err != nil || len(to) != 1 || to[0].Name != "Anna Müller" || to[0].Address != "anna@example.org" {
		t.Errorf("To = %v, %v; want Anna Müller <anna@example.org>", to, err)
	}
	if !strings.HasSuffix(got.Header.Get("Message-Id"), "@example.com>") {
		t.Errorf("Message-ID = %q; want <…@example.com>", got.Header.Get("Message-Id"))
	}
	if got.Date.Before(before.Truncate(time.Second)) || got.Date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date = %v; want about now", got.Date)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type = %q; want multipart/alternative", ct)
	}
	if got.Subject != m.Subject {
		t.Errorf("Subject = %q; want %q", got.Subject, m.Subject)
	}
	if diff := cmp.Diff(text, got.Text); diff != "" {
		t.Errorf("text part (-sent +received):\n%s", diff)
	}
	if diff := cmp.Diff(html, got.HTML); diff != "" {
		t.Errorf("html part (-sent +received):\n%s", diff)
	}
	checkWireFormat(t, got.Data)
}

// checkWireFormat checks that data is 7-bit and that no line passes 78
// characters (RFC 5322 §2.1.1): the mail survives any relay.
func checkWireFormat(t *testing.T, data []byte) {
	t.Helper()
	for i, line := range strings.Split(string(data), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line %d has %d characters: %q", i+1, len(line), line)
		}
		for _, c := range []byte(line) {
			if c >= 0x80 || c == '\n' || c == '\r' {
				t.Errorf("line %d has byte %#x: %q", i+1, c, line)
				break
			}
		}
	}
}

func TestSendNonASCIISubject(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	subject := "Grüße aus Köln – bitte verknüpfen Sie Ihr Konto bei „Drückerei Müller & Söhne“ mit Zaikio 🎉"
	if err := s.Send(t.Context(), mail.Message{To: "Jörg Weiß <joerg@example.org>", Subject: subject, Text: "Hallo Jörg"}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.Err != nil {
		t.Fatalf("received mail does not parse: %v", got.Err)
	}
	raw := got.Header.Get("Subject")
	if !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("raw Subject = %q; want RFC 2047 Q encoded-words", raw)
	}
	if got.Subject != subject {
		t.Errorf("decoded Subject = %q; want %q", got.Subject, subject)
	}
	if got.Text != "Hallo Jörg" || got.HTML != "" {
		t.Errorf("Text, HTML = %q, %q; want %q and no HTML part", got.Text, got.HTML, "Hallo Jörg")
	}
	if ct := got.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q; want text/plain; charset=utf-8 for a mail without HTML", ct)
	}
	checkWireFormat(t, got.Data)
}

func TestSendUTF8Address(t *testing.T) {
	srv := mailtest.NewServer(t) // offers SMTPUTF8
	s := newSender(t, mail.Config{URL: srv.URL()})
	if err := s.Send(t.Context(), mail.Message{To: "jörg@bücher.example", Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if !cmp.Equal(got.To, []string{"jörg@bücher.example"}) {
		t.Errorf("RCPT TO = %q; want jörg@bücher.example", got.To)
	}
	if to, err := got.Header.AddressList("To"); err != nil || to[0].Address != "jörg@bücher.example" {
		t.Errorf("To header = %v, %v", to, err)
	}
}

func TestSendGermanClaim(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := newSender(t, mail.Config{URL: srv.URL()})
	claimURL := "https://app.example.com/_hubgate/claim/" + testToken
	expires := time.Date(2026, time.March, 3, 14, 30, 0, 0, time.UTC)
	m := mail.ClaimMessage("", "de", "Jörg Weiß <joerg@example.org>", "Jörg Weiß", "Drückerei", claimURL, expires)
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send = %v", err)
	}
	got := srv.WaitFor(t, 1, 5*time.Second)[0]
	if got.Err != nil {
		t.Fatalf("received mail does not parse: %v", got.Err)
	}
	if want := "Verknüpfen Sie Ihr Konto bei Drückerei mit Zaikio"; got.Subject != want {
		t.Errorf("Subject = %q; want %q", got.Subject, want)
	}
	if got.Text != m.Text || got.HTML != m.HTML {
		t.Errorf("bodies changed on the way:\n%s", cmp.Diff(m.Text+m.HTML, got.Text+got.HTML))
	}
	for _, want := range []string{"Guten Tag Jörg Weiß,", claimURL, "3. März 2026, 14:30 Uhr (UTC)", "passiert nichts"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("text part lacks %q:\n%s", want, got.Text)
		}
	}
}

func TestAuth(t *testing.T) {
	const user, pw = "hubgate", "s3cret-Pa55word"
	for _, tc := range []struct {
		name    string
		url     func(base string) string
		wantErr string // "" for success
	}{
		{"right password", func(b string) string { return withUser(t, b, user, pw) }, ""},
		{"wrong password", func(b string) string { return withUser(t, b, user, "wrong-Pa55word") }, "authentication"},
		{"wrong user", func(b string) string { return withUser(t, b, "root", pw) }, "authentication"},
		{"no credentials", func(b string) string { return b }, "530"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			srv.RequireAuth(user, pw)
			s := newSender(t, mail.Config{URL: tc.url(srv.URL())})
			err := s.Send(t.Context(), mail.Message{To: "a@example.org", Subject: "s", Text: "t"})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Send = %v; want nil", err)
				}
				if got := srv.WaitFor(t, 1, 5*time.Second)[0]; got.User != user {
					t.Errorf("authenticated user = %q; want %q", got.User, user)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Send = %v; want an error mentioning %q", err, tc.wantErr)
			}
			for _, secret := range []string{pw, "wrong-Pa55word"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows the password", err)
				}
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server received %d mails; want 0", n)
			}
		})
	}
}

func TestInvalidMessageRefusedBeforeIO(t *testing.T) {
	good := mail.Message{To: "anna@example.org", Subject: "Hello", Text: "text"}
	for _, tc := range []struct {
		name string
		edit func(*mail.Message)
		want string
	}{
		{"CRLF in To", func(m *mail.Message) { m.To = "anna@example.org\r\nBcc: eve@example.org" }, "line break"},
		{"LF in To", func(m *mail.Message) { m.To = "anna@example.org\nBcc: eve@example.org" }, "line break"},
		{"CR in Subject", func(m *mail.Message) { m.Subject = "Hello\rBcc: eve@example.org" }, "line break"},
		{"LF in Subject", func(m *mail.Message) { m.Subject = "Hello\nBcc: eve@example.org" }, "line break"},
		{"two addresses", func(m *mail.Message) { m.To = "anna@example.org, eve@example.org" }, "not one address"},
		{"no address", func(m *mail.Message) { m.To = "anna" }, "not one address"},
		{"empty subject", func(m *mail.Message) { m.Subject = " " }, "Subject is empty"},
		{"no text", func(m *mail.Message) { m.Text = "" }, "Text is empty"},
		{"invalid UTF-8", func(m *mail.Message) { m.Text = "\xff" }, "UTF-8"},
		{"long subject", func(m *mail.Message) { m.Subject = strings.Repeat("x", 901) }, "at most 900"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			s := newSender(t, mail.Config{URL: srv.URL()})
			m := good
			tc.edit(&m)
			err := s.Send(t.Context(), m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Send = %v; want an error mentioning %q", err, tc.want)
			}
			if n := srv.Connections(); n != 0 {
				t.Errorf("server saw %d connections; want none", n)
			}
		})
	}
}

// silentServer accepts connections and never says a word: a mail server
// that hangs before its greeting.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "smtp://" + ln.Addr().String()
}

// closedPort returns a URL on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "smtp://" + addr
}

func TestTimeout(t *testing.T) {
	msg := mail.Message{To: "a@example.org", Subject: "s", Text: "t"}
	t.Run("silent server", func(t *testing.T) {
		s := newSender(t, mail.Config{URL: silentServer(t), Timeout: 300 * time.Millisecond})
		start := time.Now()
		err := s.Send(t.Context(), msg)
		elapsed := time.Since(start)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 300ms") {
			t.Errorf("Send = %v; want a timeout error", err)
		}
		if elapsed > 2*time.Second {
			t.Errorf("Send took %v; want about 300ms", elapsed)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		s := newSender(t, mail.Config{URL: closedPort(t), Timeout: 300 * time.Millisecond})
		start := time.Now()
		err := s.Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "connect to") {
			t.Errorf("Send = %v; want a connect error", err)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("Send took %v; want at most the timeout", elapsed)
		}
	})
}

func TestContextCancel(t *testing.T) {
	msg := mail.Message{To: "a@example.org", Subject: "s", Text: "t"}
	s := newSender(t, mail.Config{URL: silentServer(t), Timeout: time.Minute})
	t.Run("while waiting for the server", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		err := s.Send(ctx, msg)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v; want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("Send took %v after a cancel at 100ms", elapsed)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Send(ctx, msg); !errors.Is(err, context.Canceled) {
			t.Errorf("Send = %v; want context.Canceled", err)
		}
	})
	t.Run("parent deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		err := s.Send(ctx, msg)
		if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "timed out after 1m") {
			t.Errorf("Send = %v; want the caller's deadline, not the message timeout", err)
		}
	})
}

func TestSTARTTLS(t *testing.T) {
	msg := mail.Message{To: "a@example.org", Subject: "s", Text: "t"}
	t.Run("offered and used, with AUTH", func(t *testing.T) {
		srv := mailtest.NewStartTLSServer(t)
		srv.RequireAuth("u", "p")
		s := newSender(t, mail.Config{URL: withUser(t, srv.URL(), "u", "p") + "?starttls=required", TLSConfig: srv.ClientTLSConfig()})
		if err := s.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send = %v", err)
		}
		if got := srv.WaitFor(t, 1, 5*time.Second)[0]; !got.TLS || got.User != "u" {
			t.Errorf("received TLS=%v user=%q; want TLS and user u", got.TLS, got.User)
		}
	})
	t.Run("used when offered without being required", func(t *testing.T) {
		srv := mailtest.NewStartTLSServer(t)
		s := newSender(t, mail.Config{URL: srv.URL(), TLSConfig: srv.ClientTLSConfig()})
		if err := s.Send(t.Context(), msg); err != nil {
			t.Fatalf("Send = %v", err)
		}
		if got := srv.WaitFor(t, 1, 5*time.Second)[0]; !got.TLS {
			t.Errorf("mail went without TLS although the server offers STARTTLS")
		}
	})
	t.Run("required but not offered", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		s := newSender(t, mail.Config{URL: srv.URL() + "?starttls=required"})
		err := s.Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
			t.Errorf("Send = %v; want a STARTTLS error", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server received %d mails; want 0", n)
		}
	})
	t.Run("untrusted certificate is no reason to fall back", func(t *testing.T) {
		srv := mailtest.NewStartTLSServer(t)
		s := newSender(t, mail.Config{URL: srv.URL()}) // system roots
		err := s.Send(t.Context(), msg)
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Send = %v; want a certificate error", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server received %d mails; want 0", n)
		}
	})
}

func TestImplicitTLS(t *testing.T) {
	srv := mailtest.NewTLSServer(t)
	srv.RequireAuth("u", "p")
	if !strings.HasPrefix(srv.URL(), "smtps://") {
		t.Fatalf("URL() = %q; want smtps://", srv.URL())
	}
	s := newSender(t, mail.Config{URL: withUser(t, srv.URL(), "u", "p"), TLSConfig: srv.ClientTLSConfig()})
	if err := s.Send(t.Context(), mail.Message{To: "a@example.org", Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("Send = %v", err)
	}
	if got := srv.WaitFor(t, 1, 5*time.Second)[0]; !got.TLS || got.User != "u" {
		t.Errorf("received TLS=%v user=%q; want TLS and user u", got.TLS, got.User)
	}
}

func TestSendRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*mailtest.Server)
		code int
	}{
		{"RCPT 550", func(s *mailtest.Server) { s.FailNext(1, 550) }, 550},
		{"RCPT 451", func(s *mailtest.Server) { s.FailNext(1, 451) }, 451},
		{"DATA 554", func(s *mailtest.Server) { s.FailNextData(1, 554) }, 554},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			tc.fail(srv)
			s := newSender(t, mail.Config{URL: srv.URL()})
			err := s.Send(t.Context(), mail.Message{To: "a@example.org", Subject: "s", Text: "t"})
			var te *textproto.Error
			if !errors.As(err, &te) || te.Code != tc.code {
				t.Errorf("Send = %v; want SMTP error %d", err, tc.code)
			}
			if err != nil && strings.Contains(err.Error(), "a@example.org") {
				t.Errorf("error %q shows the whole address", err)
			}
		})
	}
}
