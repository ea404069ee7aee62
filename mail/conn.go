package mail

// The client side of SMTP is net/smtp rather than go-smtp's client, for
// three reasons:
//   - STARTTLS "when offered" needs an upgrade decided after EHLO: net/smtp
//     has Client.StartTLS for that; go-smtp only offers "STARTTLS or fail"
//     (DialStartTLS / NewClientStartTLS).
//   - net/smtp leaves connection deadlines to us, so the deadline set from
//     the message's context holds for every command and the upload; go-smtp's
//     client sets its own per command and then clears it, silently dropping
//     ours.
//   - It is the standard library. Its API is frozen, but SMTP submission is
//     a small, stable protocol and everything needed here is covered.
// go-smtp serves the other side, in package mailtest.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// conn is one SMTP session, after EHLO, STARTTLS and AUTH.
type conn struct {
	raw net.Conn // the TCP connection under any TLS: deadlines go here
	c   *smtp.Client
	// healthy turns false when a context ended while the conn was armed:
	// its deadline then lies in the past and it must not be reused.
	healthy bool
}

// connectError is a failure to set up a session, as opposed to a failure
// of one message on a working session.
type connectError struct {
	err error
	// permanent failures will not go away by retrying: a refused login, a
	// certificate that does not verify, a server without STARTTLS when TLS
	// is required.
	permanent bool
}

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// arm makes every read and write on c end when ctx does: at its deadline
// through the connection deadline, and at once on cancellation. The
// returned disarm must be called when the operation is over.
func (c *conn) arm(ctx context.Context) (disarm func()) {
	d, _ := ctx.Deadline() // zero (no deadline) when ctx has none
	c.raw.SetDeadline(d)
	stop := context.AfterFunc(ctx, func() {
		c.raw.SetDeadline(time.Unix(1, 0)) // in the past: pending I/O fails now
	})
	return func() {
		if !stop() {
			c.healthy = false
		}
	}
}

// connect dials the server and brings up a session ready for MAIL.
func (s *Sender) connect(ctx context.Context) (*conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, &connectError{err: fmt.Errorf("connect to %s: %w", s.addr, err)}
	}
	c := &conn{raw: raw, healthy: true}
	disarm := c.arm(ctx)
	defer disarm()
	if err := s.handshake(ctx, c); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}

func (s *Sender) handshake(ctx context.Context, c *conn) error {
	fail := func(permanent bool, format string, args ...any) error {
		return &connectError{err: fmt.Errorf(format, args...), permanent: permanent}
	}
	var nc net.Conn = c.raw
	if s.implicit {
		tc := tls.Client(c.raw, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail(isCertError(err), "TLS with %s: %w", s.addr, err)
		}
		nc = tc
	}
	cl, err := smtp.NewClient(nc, s.host) // reads the 220 greeting
	if err != nil {
		return fail(false, "greeting from %s: %w", s.addr, err)
	}
	c.c = cl
	if err := cl.Hello(s.hello); err != nil {
		return fail(false, "EHLO to %s: %w", s.addr, err)
	}
	if !s.implicit {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			// Offered STARTTLS is verified like implicit TLS: a server
			// whose certificate does not verify is an error, not a reason
			// to fall back to plain text.
			if err := cl.StartTLS(s.tls); err != nil {
				return fail(isCertError(err), "STARTTLS with %s: %w", s.addr, err)
			}
		} else if s.requireTLS {
			return fail(true, "%s does not offer STARTTLS, and the URL says starttls=required", s.addr)
		}
	}
	if s.user == "" {
		return nil
	}
	// RFC 4616 §6 and RFC 4954 §4: PLAIN sends the password in the clear,
	// so only under TLS, or to this machine.
	if _, isTLS := cl.TLSConnectionState(); !isTLS && !isLoopback(s.host) {
		return fail(true, "refusing to send the password for %q to %s without TLS: the server offers no STARTTLS; use smtps:// or a server with STARTTLS", s.user, s.addr)
	}
	ok, mechs := cl.Extension("AUTH")
	if !ok {
		return fail(true, "the URL has credentials, but %s does not offer AUTH", s.addr)
	}
	if !hasWord(mechs, "PLAIN") {
		return fail(true, "%s offers AUTH %s, not PLAIN", s.addr, mechs)
	}
	if err := cl.Auth(plainAuth{user: s.user, pw: s.pw}); err != nil {
		var te *textproto.Error
		return fail(errors.As(err, &te) && te.Code >= 500, "authentication as %q at %s failed: %w", s.user, s.addr, err)
	}
	return nil
}

// send runs one mail transaction: MAIL, RCPT, DATA (RFC 5321 §3.3).
func (c *conn) send(ctx context.Context, env envelope) error {
	if env.utf8 {
		if ok, _ := c.c.Extension("SMTPUTF8"); !ok {
			return errNeedsSMTPUTF8
		}
	}
	disarm := c.arm(ctx)
	defer disarm()
	if err := c.c.Mail(env.from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.c.Rcpt(env.to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(env.data); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of DATA: %w", err)
	}
	return nil
}

// reset aborts a failed transaction so the session can carry the next one.
func (c *conn) reset(ctx context.Context) error {
	disarm := c.arm(ctx)
	defer disarm()
	return c.c.Reset()
}

// quit ends the session politely when it is still usable, then closes it.
// It is a no-op on a nil conn.
func (c *conn) quit(timeout time.Duration) {
	if c == nil {
		return
	}
	if c.healthy {
		c.raw.SetDeadline(time.Now().Add(timeout))
		c.c.Quit()
	}
	c.close()
}

func (c *conn) close() { c.raw.Close() }

// errNeedsSMTPUTF8 refuses a message with a non-ASCII address to a server
// that cannot carry it; net/smtp asks for SMTPUTF8 whenever it is offered.
var errNeedsSMTPUTF8 = errors.New("the address is not ASCII and the server does not offer SMTPUTF8 (RFC 6531)")

// rejected reports whether err is a refusal of the current message on a
// session that stays open: any 4xx or 5xx reply but 421, which closes it
// (RFC 5321 §3.8).
func rejected(err error) bool {
	var te *textproto.Error
	return errors.Is(err, errNeedsSMTPUTF8) || errors.As(err, &te) && te.Code >= 400 && te.Code != 421
}

func isCode(err error, code int) bool {
	var te *textproto.Error
	return errors.As(err, &te) && te.Code == code
}

func isCertError(err error) bool {
	var ce *tls.CertificateVerificationError
	return errors.As(err, &ce)
}

// hasWord reports whether the space-separated list has w, ignoring case.
func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}

// plainAuth is SASL PLAIN (RFC 4616) for net/smtp. smtp.PlainAuth would do,
// but it knows only "localhost", "127.0.0.1" and "::1" as loopback.
type plainAuth struct{ user, pw string }

func (a plainAuth) Start(srv *smtp.ServerInfo) (string, []byte, error) {
	if !srv.TLS && !isLoopback(srv.Name) { // checked before, kept as a last guard
		return "", nil, errors.New("unencrypted connection")
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pw), nil
}

func (a plainAuth) Next(_ []byte, more bool) ([]byte, error) {
	if more {
		return nil, errors.New("unexpected server challenge")
	}
	return nil, nil
}
