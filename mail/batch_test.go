package mail_test

import (
	"context"
	"errors"
	"fmt"
	"net/textproto"
	"testing"
	"time"

	"github.com/hubgate/hubgate/mail"
	"github.com/hubgate/hubgate/mail/mailtest"
)

func batch(n int) []mail.Message {
	msgs := make([]mail.Message, n)
	for i := range msgs {
		msgs[i] = mail.ClaimMessage("", "en", fmt.Sprintf("person%d@example.org", i), fmt.Sprintf("Person %d", i),
			"Acme", fmt.Sprintf("https://app.example.com/_hubgate/claim/token%d", i), time.Now().Add(14*24*time.Hour))
	}
	return msgs
}

// progressLog records progress calls and checks that they count up by one.
type progressLog struct {
	t            *testing.T
	done, failed int
	calls        int
	on           map[int]func() // run when done reaches the key
}

func (p *progressLog) fn(done, failed int) {
	p.t.Helper()
	if done != p.done+1 || failed < p.failed || failed > done {
		p.t.Errorf("progress(%d, %d) after progress(%d, %d)", done, failed, p.done, p.failed)
	}
	p.done, p.failed = done, failed
	p.calls++
	if f := p.on[done]; f != nil {
		f()
	}
}

func TestSendMany(t *testing.T) {
	const n = 2000
	srv := mailtest.NewServer(t)
	srv.RequireAuth("u", "p")
	s := newSender(t, mail.Config{URL: withUser(t, srv.URL(), "u", "p")})
	msgs := batch(n)
	p := &progressLog{t: t, on: map[int]func(){
		n / 2: func() { srv.FailNext(1, 550) }, // the message after the middle one
	}}

	start := time.Now()
	sent, errs := s.SendMany(t.Context(), msgs, p.fn)
	elapsed := time.Since(start)
	t.Logf("SendMany of %d mails over one connection took %v (%.0f mails/s)", n, elapsed, n/elapsed.Seconds())

	if sent != n-1 || len(errs) != 1 {
		t.Fatalf("SendMany = %d sent, %d errors (%v); want %d sent, 1 error", sent, len(errs), errs, n-1)
	}
	var se *mail.SendError
	if !errors.As(errs[0], &se) || se.Index != n/2 || se.To != msgs[n/2].To {
		t.Errorf("error = %#v; want a *SendError for message %d", errs[0], n/2)
	}
	var te *textproto.Error
	if !errors.As(errs[0], &te) || te.Code != 550 || se.Temporary() {
		t.Errorf("error = %v; want the server's 550, a permanent failure", errs[0])
	}
	if p.calls != n || p.done != n || p.failed != 1 {
		t.Errorf("progress called %d times, last (%d, %d); want %d times, last (%d, 1)", p.calls, p.done, p.failed, n, n)
	}
	if c := srv.Connections(); c != 1 {
		t.Errorf("server saw %d connections; want 1", c)
	}
	got := srv.WaitFor(t, n-1, 10*time.Second)
	if len(got) != n-1 {
		t.Errorf("server received %d mails; want %d", len(got), n-1)
	}
	for i, r := range got {
		want := i
		if i >= n/2 {
			want = i + 1 // message n/2 was refused
		}
		if r.Err != nil || r.To[0] != msgs[want].To || r.Text != msgs[want].Text {
			t.Fatalf("mail %d = to %v, err %v; want message %d", i, r.To, r.Err, want)
		}
	}
}

func TestSendManyReconnects(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*mailtest.Server)
	}{
		// 421: the server closes the session (RFC 5321 §3.8), as servers
		// with a per-connection message limit do.
		{"421 on RCPT", func(s *mailtest.Server) { s.FailNext(1, 421) }},
		{"421 after DATA", func(s *mailtest.Server) { s.FailNextData(1, 421) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := mailtest.NewServer(t)
			s := newSender(t, mail.Config{URL: srv.URL()})
			p := &progressLog{t: t, on: map[int]func(){5: func() { tc.fail(srv) }}}
			sent, errs := s.SendMany(t.Context(), batch(10), p.fn)
			if sent != 10 || len(errs) != 0 {
				t.Fatalf("SendMany = %d, %v; want 10 sent", sent, errs)
			}
			if c := srv.Connections(); c != 2 {
				t.Errorf("server saw %d connections; want 2", c)
			}
		})
	}
}

func TestSendManyGivesUp(t *testing.T) {
	t.Run("server down", func(t *testing.T) {
		s := newSender(t, mail.Config{URL: closedPort(t), Timeout: time.Second})
		sent, errs := s.SendMany(t.Context(), batch(100), nil)
		if sent != 0 || len(errs) != 100 {
			t.Fatalf("SendMany = %d sent, %d errors; want 0, 100", sent, len(errs))
		}
		for i, err := range errs {
			if tried := !errors.Is(err, mail.ErrNotAttempted); tried != (i < 3) {
				t.Errorf("error %d = %v; want the first 3 tried, the rest not attempted", i, err)
			}
			if se := err.(*mail.SendError); !se.Temporary() {
				t.Errorf("error %d = %v; want a temporary failure", i, err)
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		srv.RequireAuth("u", "p")
		s := newSender(t, mail.Config{URL: withUser(t, srv.URL(), "u", "nope")})
		sent, errs := s.SendMany(t.Context(), batch(5), nil)
		if sent != 0 || len(errs) != 5 {
			t.Fatalf("SendMany = %d sent, %d errors; want 0, 5", sent, len(errs))
		}
		if errors.Is(errs[0], mail.ErrNotAttempted) || !errors.Is(errs[4], mail.ErrNotAttempted) {
			t.Errorf("errors = %v; want the first tried, the rest not attempted", errs)
		}
		if c := srv.Connections(); c != 1 {
			t.Errorf("server saw %d connections; want 1 (no retries of a refused login)", c)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		s := newSender(t, mail.Config{URL: srv.URL()})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := &progressLog{t: t, on: map[int]func(){10: cancel}}
		sent, errs := s.SendMany(ctx, batch(50), p.fn)
		if sent != 10 || len(errs) != 40 || p.done != 50 || p.failed != 40 {
			t.Fatalf("SendMany = %d sent, %d errors, progress (%d, %d); want 10, 40, (50, 40)", sent, len(errs), p.done, p.failed)
		}
		if !errors.Is(errs[0], mail.ErrNotAttempted) || !errors.Is(errs[0], context.Canceled) {
			t.Errorf("error = %v; want not attempted: context canceled", errs[0])
		}
	})
}
