// Package mailtest runs a real SMTP server in the test process, built on
// github.com/emersion/go-smtp, so that any package that sends mail can be
// tested end to end: over a socket, through the whole SMTP dialogue, with
// the received mails parsed back from MIME.
//
//	srv := mailtest.NewServer(t)
//	sender, _ := mail.New(mail.Config{URL: srv.URL(), From: "hubgate <noreply@example.com>"})
//	… code under test sends …
//	got := srv.WaitFor(t, 1, 5*time.Second)
//	// got[0].Subject, got[0].Text, got[0].HTML
//
// The server accepts every mail unless told otherwise: RequireAuth demands
// AUTH PLAIN with given credentials, FailNext and FailNextData reject the
// next commands with a chosen reply code. It is for tests
// only: it keeps what it receives in memory and never relays a mail.
package mailtest

import (
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/mail"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Server is an SMTP server on 127.0.0.1 that records what it receives.
// Its methods are safe for concurrent use.
type Server struct {
	t         testing.TB
	smtp      *smtp.Server
	ln        *listener
	url       string
	clientTLS *tls.Config // trusts the server's certificate; nil without TLS

	mu       sync.Mutex // guards the fields below
	msgs     []Received
	changed  chan struct{} // closed, and replaced, whenever msgs changes
	user, pw string        // required credentials; user "" means AUTH is optional
	failRcpt failure
	failData failure
}

// failure is a number of commands still to reject, and with what code.
type failure struct{ n, code int }

// Received is one mail the server accepted.
type Received struct {
	From string   // MAIL FROM
	To   []string // RCPT TO, in order
	Data []byte   // the message as received, CRLF line endings, dots unstuffed
	TLS  bool     // whether the session was under TLS (STARTTLS or implicit)
	User string   // the authenticated user; "" without AUTH

	// Parsed from Data with net/mail, mime/multipart and
	// mime/quotedprintable. Err says why, if Data did not parse.
	Header  mail.Header // canonical keys
	Subject string      // RFC 2047 decoded
	Date    time.Time   // zero when the Date header is missing
	Text    string      // the first text/plain part, decoded, line breaks as "\n"
	HTML    string      // the first text/html part, decoded, line breaks as "\n"
	Err     error
}

// NewServer starts a plain SMTP server on 127.0.0.1:0 that accepts any
// mail, and AUTH PLAIN with any credentials (see RequireAuth). It does not
// offer STARTTLS. It shuts down in t.Cleanup.
func NewServer(t testing.TB) *Server { return start(t, tlsNone) }

// NewStartTLSServer is NewServer that also offers STARTTLS, with a
// self-signed certificate for 127.0.0.1 and localhost; ClientTLSConfig
// trusts it.
func NewStartTLSServer(t testing.TB) *Server { return start(t, tlsStart) }

// NewTLSServer is NewServer with implicit TLS (smtps): the whole session is
// under TLS with the certificate that ClientTLSConfig trusts.
func NewTLSServer(t testing.TB) *Server { return start(t, tlsImplicit) }

type tlsMode int

const (
	tlsNone tlsMode = iota
	tlsStart
	tlsImplicit
)

func start(t testing.TB, mode tlsMode) *Server {
	t.Helper()
	s := &Server{t: t, changed: make(chan struct{})}
	s.smtp = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.smtp.Domain = "mailtest.invalid"
	s.smtp.AllowInsecureAuth = true
	s.smtp.ReadTimeout = 30 * time.Second
	s.smtp.WriteTimeout = 30 * time.Second
	s.smtp.MaxMessageBytes = 32 << 20
	s.smtp.MaxRecipients = 100
	s.smtp.EnableSMTPUTF8 = true                 // the backend keeps addresses as UTF-8 strings
	s.smtp.ErrorLog = log.New(io.Discard, "", 0) // a closing client is no test failure

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s.ln = &listener{Listener: ln}
	var serveLn net.Listener = s.ln
	scheme := "smtp"
	if mode != tlsNone {
		cert, clientCfg, err := selfSigned()
		if err != nil {
			ln.Close()
			t.Fatalf("mailtest: certificate: %v", err)
		}
		s.clientTLS = clientCfg
		serverCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if mode == tlsStart {
			s.smtp.TLSConfig = serverCfg
		} else {
			serveLn = tls.NewListener(s.ln, serverCfg)
			scheme = "smtps"
		}
	}
	s.url = scheme + "://" + ln.Addr().String()

	served := make(chan struct{})
	go func() {
		defer close(served)
		s.smtp.Serve(serveLn)
	}()
	t.Cleanup(func() {
		s.smtp.Close()
		s.ln.Close() // in case Serve had not registered it when Close ran
		<-served
		s.ln.wait(5 * time.Second)
	})
	return s
}

// URL returns smtp://127.0.0.1:PORT (smtps:// for NewTLSServer), with no
// credentials and no starttls parameter.
func (s *Server) URL() string { return s.url }

// Addr returns 127.0.0.1:PORT.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ClientTLSConfig returns a client config that trusts the server's
// self-signed certificate, or nil for a server without TLS.
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.clientTLS == nil {
		return nil
	}
	return s.clientTLS.Clone()
}

// RequireAuth makes MAIL fail with 530 until the client has authenticated
// with AUTH PLAIN as user with password pw; other credentials get 535.
func (s *Server) RequireAuth(user, pw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pw = user, pw
}

// FailNext makes the next n RCPT commands fail with code (400-599), as a
// server refusing a recipient or throttling does. The connection stays open.
func (s *Server) FailNext(n, code int) {
	s.t.Helper()
	s.setFailure(&s.failRcpt, n, code)
}

// FailNextData makes the next n messages fail with code (400-599) after
// their data has been received: the reply to the final ".".
func (s *Server) FailNextData(n, code int) {
	s.t.Helper()
	s.setFailure(&s.failData, n, code)
}

func (s *Server) setFailure(f *failure, n, code int) {
	s.t.Helper()
	if code < 400 || code > 599 || n < 0 {
		s.t.Fatalf("mailtest: FailNext(%d, %d); want n ≥ 0 and a 4xx or 5xx code", n, code)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	*f = failure{n: n, code: code}
}

// Messages returns a copy of the mails received so far, in order.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

// WaitFor waits until at least n mails have arrived and returns them all;
// it fails the test if they do not arrive within timeout.
func (s *Server) WaitFor(t testing.TB, n int, timeout time.Duration) []Received {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			msgs := slices.Clone(s.msgs)
			s.mu.Unlock()
			return msgs
		}
		got, changed := len(s.msgs), s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			t.Fatalf("mailtest: %d mails arrived within %v; want %d", got, timeout, n)
			return nil
		}
	}
}

// Connections returns how many connections the server has accepted.
func (s *Server) Connections() int { return s.ln.count() }

// Reset forgets the received mails and pending failures, and sets the
// connection count to zero. RequireAuth stays in force.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = nil
	s.failRcpt, s.failData = failure{}, failure{}
	s.ln.resetCount()
	close(s.changed)
	s.changed = make(chan struct{})
}

// take consumes one pending failure of f, if any.
func (s *Server) take(f *failure) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.n == 0 {
		return nil
	}
	f.n--
	return &smtp.SMTPError{
		Code:         f.code,
		EnhancedCode: smtp.EnhancedCode{f.code / 100, 0, 0},
		Message:      "mailtest: rejected as told by FailNext",
	}
}

func (s *Server) record(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = append(s.msgs, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

// session is one SMTP session; go-smtp calls its methods from the
// connection's goroutine only.
type session struct {
	srv  *Server
	conn *smtp.Conn
	user string // authenticated as
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pw string) error {
		ss.srv.mu.Lock()
		wantUser, wantPW := ss.srv.user, ss.srv.pw
		ss.srv.mu.Unlock()
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		if wantUser != "" && (user != wantUser || pw != wantPW) {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.srv.mu.Lock()
	authRequired := ss.srv.user != ""
	ss.srv.mu.Unlock()
	if authRequired && ss.user == "" {
		// RFC 4954 §6; go-smtp's ErrAuthRequired says 502.
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.srv.take(&ss.srv.failRcpt); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.srv.take(&ss.srv.failData); err != nil {
		return err
	}
	_, isTLS := ss.conn.TLSConnectionState()
	rcv := parse(data)
	rcv.From, rcv.To, rcv.Data, rcv.TLS, rcv.User = ss.from, slices.Clone(ss.to), data, isTLS, ss.user
	ss.srv.record(rcv)
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// listener counts accepted connections and tracks them until they are
// closed, so that Cleanup can wait for the server's connection goroutines
// to let go of them.
type listener struct {
	net.Listener
	mu       sync.Mutex // guards accepted
	accepted int
	open     sync.WaitGroup
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.accepted++
	l.mu.Unlock()
	l.open.Add(1)
	return &trackedConn{Conn: c, done: l.open.Done}, nil
}

func (l *listener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accepted
}

func (l *listener) resetCount() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted = 0
}

// wait waits, up to timeout, for every accepted connection to be closed.
func (l *listener) wait(timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		l.open.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
	}
}

type trackedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.done)
	return err
}
