package session

// Fuzz targets for the session cookie. Seed corpora live in
// testdata/fuzz/<Target>/ and are replayed by every `go test`; .ci/fuzz runs
// each target for a while (go test -run '^$' -fuzz '^FuzzX$' ./session).

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzSessionCookie: any Cookie header decodes to no identity or to a
// consistent one, without panicking; the identity codec round-trips.
func FuzzSessionCookie(f *testing.F) {
	m := testManager(f, nil, nil)
	now := time.UnixMilli(1_700_000_000_000)
	id := &Identity{SessionID: NewID(), Person: "383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01", JTI: "j", User: "42",
		Email: "a@b.c", Name: "N", Orgs: "1,2", Roles: "1:admin", Created: now, Validated: now, Expires: now.Add(time.Hour)}
	valid, err := m.codec.Encode(m.name, id.marshal())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(m.name+"="+valid, id.marshal())
	f.Add(m.name+"="+valid[:len(valid)/2], []byte{1, 0, 0, 0})
	f.Add(m.name+`="`+valid+`"; other=1`, []byte{1})
	f.Add(strings.Repeat(m.name+"=x;", 50), []byte{})
	f.Fuzz(func(t *testing.T, header string, raw []byte) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Cookie"] = []string{header}
		if got := m.Decode(r); got != nil {
			if got.marshal() == nil || got.headers.Person == nil && got.Person != "" {
				t.Fatalf("decoded identity not prepared: %+v", got)
			}
		}
		var x Identity
		if err := x.unmarshal(raw); err != nil {
			return
		}
		var y Identity
		if err := y.unmarshal(x.marshal()); err != nil {
			t.Fatalf("re-marshalled identity does not unmarshal: %v", err)
		}
		if x.SessionID != y.SessionID || x.Person != y.Person || x.JTI != y.JTI || x.User != y.User || x.Email != y.Email ||
			x.Name != y.Name || x.Orgs != y.Orgs || x.Roles != y.Roles || !x.Created.Equal(y.Created) || !x.Validated.Equal(y.Validated) || !x.Expires.Equal(y.Expires) {
			t.Fatalf("identity does not round-trip:\n%+v\n%+v", &x, &y)
		}
	})
}

// FuzzSessionCookieSize: whatever an identity holds, the session cookie is
// at most maxCookie bytes or refused with ErrCookieTooLarge, and what is
// issued decodes to the same identity.
func FuzzSessionCookieSize(f *testing.F) {
	m := testManager(f, nil, nil)
	f.Add("p", "42", "a@b.c", "Name", "1,2", "1:admin", 1)
	f.Add("p", "42", "a@b.c", strings.Repeat("n", 2000), strings.Repeat("1,", 500), strings.Repeat("1:admin,", 300), 1)
	f.Add("", "", "", "\r\n\x00", "", "", 100)
	f.Fuzz(func(t *testing.T, person, user, email, name, orgs, roles string, repeat int) {
		if repeat < 1 || repeat > 64 {
			repeat = 1
		}
		orgs = strings.Repeat(orgs, repeat)
		now := time.UnixMilli(1_700_000_000_000)
		id := &Identity{SessionID: NewID(), Person: person, User: user, Email: email, Name: name, Orgs: orgs, Roles: roles,
			Created: now, Validated: now, Expires: time.Now().Add(time.Hour)}
		c, err := m.cookie(id)
		if err != nil {
			if !strings.Contains(err.Error(), ErrCookieTooLarge.Error()) {
				t.Fatalf("sessionCookie: %v; want ErrCookieTooLarge", err)
			}
			return
		}
		if len(c.Value) > maxCookie {
			t.Fatalf("cookie of %d bytes; want ≤ %d", len(c.Value), maxCookie)
		}
		if line := c.String(); len(line) > 4096 {
			t.Fatalf("Set-Cookie line of %d bytes; browsers keep 4096", len(line))
		}
		raw, err := m.codec.Decode(m.name, c.Value)
		if err != nil {
			t.Fatalf("issued cookie does not decode: %v", err)
		}
		var back Identity
		if err := back.unmarshal(raw); err != nil || back.Orgs != orgs || back.Name != name || back.Person != person {
			t.Fatalf("issued cookie decodes to %+v, %v", &back, err)
		}
	})
}
