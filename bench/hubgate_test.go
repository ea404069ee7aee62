package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hubgate/hubgate/claim"
	"github.com/hubgate/hubgate/store/bolt"
	"github.com/hubgate/hubgate/zaikio/devhub"
)

// TestLinkViaStore is the fallback for a missing admin route: the links land
// in the bbolt file hubgate will open, and writing them twice is fine.
func TestLinkViaStore(t *testing.T) {
	dir := t.TempDir()
	s, err := newHubgateSetup(filepath.Join(dir, "hubgate"), dir, "http://127.0.0.1:1", "file", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		if err := s.linkViaStore(ctx); err != nil {
			t.Fatalf("linkViaStore() = %v; want nil", err)
		}
	}
	db, err := bolt.Open(s.storePath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, want := range benchLinks {
		l, err := db.LinkByZaikio(ctx, want.Kind, want.ZaikioID)
		if err != nil || l.LegacyID != want.LegacyID {
			t.Errorf("LinkByZaikio(%s, %s) = %q, %v; want %q", want.Kind, want.ZaikioID, l.LegacyID, err, want.LegacyID)
		}
	}
	if _, err := db.Link(ctx, claim.KindPerson, legacyUser); err != nil {
		t.Errorf("Link(person, %s) = %v; want nil", legacyUser, err)
	}
}

func TestPersonForm(t *testing.T) {
	page := `<form method="post" action="/oauth/authorize" class="person">
<input type="hidden" name="client_id" value="hubgate_bench">
<input type="hidden" name="redirect_uri" value="http://127.0.0.1:1/_hubgate/callback">
<input type="hidden" name="state" value="a&amp;b">
<input type="hidden" name="action" value="approve">
<button type="submit" name="person" value="` + devhub.ErikaID + `">Erika</button>
</form>
<form method="post" action="/oauth/authorize" class="person">
<input type="hidden" name="client_id" value="hubgate_bench">
<input type="hidden" name="state" value="s&amp;t">
<input type="hidden" name="action" value="approve">
<button type="submit" name="person" value="` + devhub.FrankID + `">Frank</button>
</form>`
	f, err := personForm([]byte(page), devhub.FrankID)
	if err != nil {
		t.Fatal(err)
	}
	if f.Get("state") != "s&t" || f.Get("person") != devhub.FrankID || f.Get("action") != "approve" || f.Has("redirect_uri") {
		t.Errorf("personForm() = %v; want Frank's form only, unescaped, with person", f)
	}
	if _, err := personForm([]byte(page), devhub.AdaID); err == nil {
		t.Error("personForm(Ada) = nil error; want one (no button)")
	}
}
