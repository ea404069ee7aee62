package main

import (
	"strings"
	"testing"
)

// TestConfigLimits: the limits: section is read from the file and the
// environment (HUBGATE_LIMITS_*), left at zero (the proxy's defaults) when
// absent, and an IPv6 prefix out of range names its key.
func TestConfigLimits(t *testing.T) {
	t.Parallel()
	path := cfgFile(t, cfgMinimal().set("limits", map[string]any{
		"ipv6_prefix": 56, "flow_starts": 300, "failed_callbacks": 10, "failed_claims": -1, "resend_per_client": 60,
	}))
	c, err := loadConfig(path, cfgEnv("HUBGATE_LIMITS_RESEND_PER_EMAIL", "3"))
	if err != nil {
		t.Fatalf("loadConfig = %v", err)
	}
	l := c.Limits
	if l.IPv6Prefix != 56 || l.FlowStarts != 300 || l.FailedCallbacks != 10 || l.FailedClaims != -1 || l.ResendPerClient != 60 || l.ResendPerEmail != 3 {
		t.Errorf("limits = %+v; want the file's values and resend_per_email 3 from the environment", l)
	}
	c, err = loadConfig(cfgFile(t, cfgMinimal()), cfgEnv())
	if err != nil {
		t.Fatalf("loadConfig(minimal) = %v", err)
	}
	if c.Limits != (Config{}).Limits {
		t.Errorf("limits without a limits section = %+v; want zero (the proxy's defaults)", c.Limits)
	}
	for _, bad := range []int{-1, 129, 1000} {
		_, err := loadConfig(cfgFile(t, cfgMinimal().set("limits.ipv6_prefix", bad)), cfgEnv())
		if err == nil || !strings.Contains(err.Error(), "limits.ipv6_prefix") {
			t.Errorf("limits.ipv6_prefix %d: loadConfig = %v; want an error naming the key", bad, err)
		}
	}
	if _, err := loadConfig(cfgFile(t, cfgMinimal().set("limits.flow_start", 5)), cfgEnv()); err == nil || !strings.Contains(err.Error(), "flow_start") {
		t.Errorf("a misspelt limits key: loadConfig = %v; want an error naming it", err)
	}
}
