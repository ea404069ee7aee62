package zaikio_test

import (
	"context"
	"testing"

	"github.com/hubgate/hubgate/zaikio"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// BenchmarkBearerVerify measures the bearer path on the real clock: cached
// is the steady state (a token seen before: hash, compare, expiry and
// revocation checks), cold a token verified from scratch every time (header,
// RS256 signature, claims, subject, scopes, revocation check).
func BenchmarkBearerVerify(b *testing.B) {
	run := func(b *testing.B, cfg func(*zaikio.BearerConfig)) {
		e := newBearerEnvAt(b, nil, cfg)
		raw := e.credentials(b, "Per/"+devhub.FrankID+">Org/"+devhub.BountySoapID+"."+appName+".api.rw")
		ctx := context.Background()
		if _, err := e.v.Verify(ctx, raw); err != nil { // fetch keys and list
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.v.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("cached", func(b *testing.B) { run(b, nil) })
	b.Run("cold", func(b *testing.B) { run(b, func(c *zaikio.BearerConfig) { c.CacheSize = -1 }) })
	b.Run("cached-parallel", func(b *testing.B) {
		e := newBearerEnvAt(b, nil, nil)
		raw := e.credentials(b, orgScope)
		ctx := context.Background()
		if _, err := e.v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.v.Verify(ctx, raw); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
