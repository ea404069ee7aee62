// Package migration holds the nouns of the migration that both faces
// (proxy, admin) and the stores share: the mode the legacy login is in
// ([Mode], [Modes]). It is pure Go (standard library only): no HTTP, no
// storage, no policy beyond what a mode name means; what a mode lets
// through is the proxy's gate, and where it is stored is the store's.
package migration

import (
	"fmt"
	"strings"
)

// Mode is the migration stage (DESIGN §2): how far the legacy login has been
// switched off.
type Mode string

// The three modes, in the order a migration goes through them.
const (
	// Passthrough forwards everything; identity headers when a session exists.
	Passthrough Mode = "passthrough"
	// Offer puts a "Sign in with Zaikio" page in front of the legacy login.
	Offer Mode = "offer"
	// Enforce closes the legacy login and requires a session everywhere
	// except public paths.
	Enforce Mode = "enforce"
)

// Modes lists every mode in migration order.
var Modes = []Mode{Passthrough, Offer, Enforce}

// ParseMode accepts the three mode names.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Passthrough, Offer, Enforce:
		return m, nil
	}
	return "", fmt.Errorf("migration: mode %q, want %s", s, names())
}

// names lists the modes for error messages: "passthrough, offer or enforce".
func names() string {
	s := make([]string, len(Modes))
	for i, m := range Modes {
		s[i] = string(m)
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
