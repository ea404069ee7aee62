package proxy

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/hubgate/hubgate/session"
)

// cookieCodecs returns a codec holding two secrets (new first, old second)
// and a codec holding only the old one, for rotation cases.
func cookieCodecs(t testing.TB, maxAge time.Duration) (both, old *codec) {
	t.Helper()
	newSecret, oldSecret := bytes.Repeat([]byte("n"), 32), bytes.Repeat([]byte("o"), 32)
	both, err := newCodec([][]byte{newSecret, oldSecret}, maxAge)
	if err != nil {
		t.Fatal(err)
	}
	old, err = newCodec([][]byte{oldSecret}, maxAge)
	if err != nil {
		t.Fatal(err)
	}
	return both, old
}

// referenceDecode is gorilla/securecookie's own decoder over the same keys.
func referenceDecode(c *codec, name, value string) ([]byte, error) {
	var b []byte
	err := securecookie.DecodeMulti(name, value, &b, c.codecs...)
	return b, err
}

// handCookie writes securecookie's format by hand with a chosen date, for
// the expiry cases securecookie's encoder (always "now") cannot produce.
func handCookie(secret []byte, name string, date int64, plain []byte) string {
	block, _ := aes.NewCipher(derive(secret, "hubgate cookie enc"))
	iv := bytes.Repeat([]byte{7}, block.BlockSize())
	ct := make([]byte, len(plain))
	cipher.NewCTR(block, iv).XORKeyStream(ct, plain)
	body := fmt.Sprintf("%d|%s", date, base64.URLEncoding.EncodeToString(append(iv, ct...)))
	m := hmac.New(sha256.New, derive(secret, "hubgate cookie mac"))
	m.Write([]byte(name + "|" + body))
	return base64.URLEncoding.EncodeToString(append([]byte(body+"|"), m.Sum(nil)...))
}

func TestCookieDecode(t *testing.T) {
	both, old := cookieCodecs(t, time.Hour)
	plain := []byte("\x01identity bytes")
	fresh, err := both.encode("s", plain)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := old.encode("s", plain)
	if err != nil {
		t.Fatal(err)
	}
	oldSecret := bytes.Repeat([]byte("o"), 32)
	now := time.Now().Unix()
	long := strings.Repeat("A", maxCookie+1)
	for _, tc := range []struct {
		name, cookie, value string
		want                []byte // nil: refused
	}{
		{"written by the first secret", "s", fresh, plain},
		{"written by a rotated-out secret", "s", rotated, plain},
		{"by hand, fresh", "s", handCookie(oldSecret, "s", now, plain), plain},
		{"by hand, older than max age", "s", handCookie(oldSecret, "s", now-3601-1, plain), nil},
		{"by hand, date with plus sign", "s", handCookie(oldSecret, "s", now, plain), plain},
		{"another cookie's name", "t", fresh, nil},
		{"secret unknown", "s", handCookie(bytes.Repeat([]byte("x"), 32), "s", now, plain), nil},
		{"truncated", "s", fresh[:len(fresh)-4], nil},
		{"empty", "s", "", nil},
		{"not base64", "s", "%%%", nil},
		{"too long", "s", long, nil},
		{"no separators", "s", base64.URLEncoding.EncodeToString([]byte("abc")), nil},
		{"iv only", "s", handCookie(oldSecret, "s", now, nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := both.decode(tc.cookie, tc.value)
			ref, refErr := referenceDecode(both, tc.cookie, tc.value)
			if (err == nil) != (refErr == nil) || !bytes.Equal(got, ref) {
				t.Fatalf("decode = %q, %v; securecookie = %q, %v", got, err, ref, refErr)
			}
			if tc.want == nil && err == nil || tc.want != nil && !bytes.Equal(got, tc.want) {
				t.Fatalf("decode = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParseInt(t *testing.T) {
	for _, s := range []string{"0", "-0", "+7", "1700000000", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999", "00000000000000000000001", "", "-", "+", "1_0", " 1", "0x10", "１"} {
		want, err := strconv.ParseInt(s, 10, 64)
		got, ok := parseInt([]byte(s))
		if ok != (err == nil) || ok && got != want {
			t.Errorf("parseInt(%q) = %d, %v; strconv says %d, %v", s, got, ok, want, err)
		}
	}
}

// FuzzCookieDecode: decodeAppend and gorilla/securecookie agree on every
// input: both refuse, or both return the same plaintext. The fuzzer mutates
// genuine cookies (flip one byte of the value or of its base64-decoded form)
// and arbitrary strings.
func FuzzCookieDecode(f *testing.F) {
	both, old := cookieCodecs(f, time.Hour)
	f.Add("s", []byte("\x01payload"), false, -1, false, "")
	f.Add("s", []byte("x"), true, 5, false, "")
	f.Add("s", []byte("0123456789abcdef0123456789"), false, 40, true, "")
	f.Add("session", []byte{}, false, -1, false, "")
	f.Add("s", []byte(nil), false, -1, false, "MTcwMDAwMDAwMHx8")
	f.Fuzz(func(t *testing.T, name string, plain []byte, rotated bool, flip int, inner bool, raw string) {
		value := raw
		if raw == "" {
			enc := both
			if rotated {
				enc = old
			}
			v, err := enc.encode(name, plain)
			if err != nil {
				return // securecookie refuses to write it (too long)
			}
			value = v
			if flip >= 0 {
				if inner {
					b, err := base64.URLEncoding.DecodeString(value)
					if err != nil {
						t.Fatal(err)
					}
					b[flip%len(b)] ^= 0x20
					value = base64.URLEncoding.EncodeToString(b)
				} else {
					b := []byte(value)
					b[flip%len(b)] ^= 0x01
					value = string(b)
				}
			}
		}
		got, err := both.decode(name, value)
		ref, refErr := referenceDecode(both, name, value)
		if (err == nil) != (refErr == nil) || !bytes.Equal(got, ref) {
			t.Fatalf("decode(%q, %q) = %q, %v; securecookie = %q, %v", name, value, got, err, ref, refErr)
		}
		if raw == "" && flip < 0 && (err != nil || !bytes.Equal(got, plain)) && len(plain) > 0 {
			t.Fatalf("genuine cookie: decode = %q, %v; want %q", got, err, plain)
		}
	})
}

// TestStaleByOrg: an "org:<id>" revalidation mark makes stale exactly the
// sessions validated before it whose Orgs list holds that id.
func TestStaleByOrg(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	rs := newRevocationSet([]session.Revocation{{Kind: session.Revalidate, Subject: "org:200", At: t0}})
	for _, tc := range []struct {
		orgs      string
		validated time.Time
		want      bool
	}{
		{"100,200", t0.Add(-time.Second), true},
		{"200", t0.Add(-time.Second), true},
		{"100,200", t0.Add(time.Second), false}, // validated after the mark
		{"100,20", t0.Add(-time.Second), false},
		{"100,2000", t0.Add(-time.Second), false},
		{"", t0.Add(-time.Second), false},
	} {
		id := &Identity{Person: "p", Orgs: tc.orgs, Validated: tc.validated}
		if got := rs.stale(id, t0.Add(time.Minute)); got != tc.want {
			t.Errorf("stale(orgs %q, validated %v) = %v; want %v", tc.orgs, tc.validated.Sub(t0), got, tc.want)
		}
	}
	if rs := newRevocationSet([]session.Revocation{{Kind: session.Revalidate, Subject: "p", At: t0}}); !rs.stale(&Identity{Person: "p", Validated: t0.Add(-1)}, t0) {
		t.Error("a person mark does not make the person's session stale at once")
	}
}

// TestStaleEveryoneSpread: an "everyone" mark makes each session due at its
// own point within staleSpread, so one event does not send every session to
// the hub in the same second; all are due once the window has passed.
func TestStaleEveryoneSpread(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	rs := newRevocationSet([]session.Revocation{{Kind: session.Revalidate, Subject: "*", At: t0}})
	dueAt := map[time.Duration]int{}
	for i := range 1000 {
		id := &Identity{Person: fmt.Sprint("p", i), SessionID: newSessionID(), Validated: t0.Add(-time.Second)}
		if rs.stale(id, t0.Add(staleSpread)) != true {
			t.Fatalf("session %d not due after the whole window", i)
		}
		if rs.stale(&Identity{Person: id.Person, SessionID: id.SessionID, Validated: t0.Add(time.Second)}, t0.Add(time.Hour)) {
			t.Fatalf("session %d validated after the mark is due", i)
		}
		for s := time.Duration(0); s < staleSpread; s += time.Second {
			if rs.stale(id, t0.Add(s)) {
				dueAt[s]++
				break
			}
		}
	}
	if len(dueAt) < 20 {
		t.Errorf("1000 sessions fall due in only %d distinct seconds of %s; want them spread", len(dueAt), staleSpread)
	}
	for s, n := range dueAt {
		if n > 100 {
			t.Errorf("%d of 1000 sessions fall due in second %s; want at most 100", n, s)
		}
	}
}
