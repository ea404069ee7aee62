// Package pgtest gives tests an empty PostgreSQL schema of their own.
//
// The server comes from the environment: HUBGATE_TEST_POSTGRES holds a DSN
// (`eval "$(.ci/start-postgres)"` sets it). Without it a test is skipped on
// a laptop and fails when CI=true: CI must really exercise PostgreSQL. It
// never creates or drops a database, only schemas of its own, which it
// drops when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the test server's DSN.
const EnvDSN = "HUBGATE_TEST_POSTGRES"

// BaseDSN returns the test server's DSN, or skips tb (fails it when
// CI=true) when none is configured.
func BaseDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is not set: CI must really exercise PostgreSQL (eval \"$(.ci/start-postgres)\" sets it)", EnvDSN)
	}
	tb.Skipf("%s is not set; run eval \"$(.ci/start-postgres)\" to test against PostgreSQL", EnvDSN)
	return ""
}

// DSN creates a fresh, empty schema for tb, drops it (with everything in
// it) when tb ends, and returns a DSN whose search_path names it, so that
// tests run in parallel on one database without seeing each other.
func DSN(tb testing.TB) string {
	tb.Helper()
	base := BaseDSN(tb)
	var b [6]byte
	rand.Read(b[:])
	schema := "hubgate_test_" + hex.EncodeToString(b[:])
	exec(tb, base, `CREATE SCHEMA `+schema)
	tb.Cleanup(func() { exec(tb, base, `DROP SCHEMA `+schema+` CASCADE`) })
	return WithSearchPath(tb, base, schema)
}

// WithSearchPath returns dsn with its search_path set to schema.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("parse %s: %v", EnvDSN, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// Exec runs one statement on its own connection to dsn.
func Exec(tb testing.TB, dsn, sql string, args ...any) {
	tb.Helper()
	exec(tb, dsn, sql, args...)
}

func exec(tb testing.TB, dsn, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to the test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
