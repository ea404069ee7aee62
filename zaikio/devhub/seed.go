package devhub

import "time"

// The demo directory loaded by Config.Seed. The IDs are fixed so that demos,
// docs and tests can name them.
//
//	person                 Bounty Soap Inc.  Galactic Print Inc.  Analytical Engines Ltd.
//	Frank Gallikanokus     owner             member
//	Erika Mustermann                         admin
//	Max Muster             member            member, designer
//	Ada Lovelace                                                  owner
const (
	FrankID = "383663bc-3c3e-4e8e-9f0e-6c1b1f0a7e01" // Frank Gallikanokus, fgalli@example.com
	ErikaID = "29b276b7-c0fa-4514-a5b1-c0fb4ee40fa7" // Erika Mustermann, erika.mustermann@example.com
	MaxID   = "5d1f0c7e-8a3b-4f29-b6e4-3c2a9d8e7f02" // Max Muster, max.muster@example.com
	AdaID   = "a7e3c1d9-2b4f-4c68-8e1a-6f5d3b9c0a03" // Ada Lovelace, ada@example.com

	BountySoapID        = "b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01" // Bounty Soap Inc. (DE, printer)
	GalacticPrintID     = "f5345a2a-7d1e-4b3c-9a6f-2e8d5c4b3a02" // Galactic Print Inc. (GB, printer, agency)
	AnalyticalEnginesID = "c3e8a6b4-5f2d-4a19-8c7e-9b1a3d6f2e03" // Analytical Engines Ltd. (GB, supplier)
)

// "Another Zaikio app", registered by Config.Seed: a confidential app that
// calls the other registered apps' APIs with client credentials tokens.
// Frank Gallikanokus (person) and Bounty Soap Inc. (organization) have
// granted it DevScope of every other app registered with the hub
// ("<app name>.api.rw"), so that
//
//	curl -u another_app:another-app-secret -d grant_type=client_credentials \
//	  -d scope=Org/b1475f65-2a6c-4d1e-8b3f-9c7d5e4a1b01.<app name>.api.r \
//	  http://<hub>/oauth/access_token
//
// answers a token; on-behalf tokens (Per/<Frank>>Org/<Bounty Soap>.…) work
// too, since Frank owns Bounty Soap. Nobody else granted it anything.
// The secret is public: the dev hub is for development only.
const (
	OtherAppClientID = "another_app"
	OtherAppSecret   = "another-app-secret"
	OtherAppName     = "another_app"
	DevScope         = "api"
)

// seedGrantsLocked lets another_app ask for DevScope of app a.
func (h *Hub) seedGrantsLocked(a App) {
	if a.ClientID == OtherAppClientID {
		return
	}
	scope := []string{a.Name + "." + DevScope + ".rw"}
	h.recordGrantLocked(OtherAppClientID, "Per/"+FrankID, scope)
	h.recordGrantLocked(OtherAppClientID, "Org/"+BountySoapID, scope)
}

// seed loads the demo directory. Timestamps are fixed, so seeded JSON is stable.
func (h *Hub) seed() {
	at := time.Date(2021, 3, 4, 9, 30, 0, 0, time.UTC)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range []Person{
		{ID: FrankID, FirstName: "Frank", Name: "Gallikanokus", Email: "fgalli@example.com"},
		{ID: ErikaID, FirstName: "Erika", Name: "Mustermann", Email: "erika.mustermann@example.com"},
		{ID: MaxID, FirstName: "Max", Name: "Muster", Email: "max.muster@example.com"},
		{ID: AdaID, FirstName: "Ada", Name: "Lovelace", Email: "ada@example.com"},
	} {
		h.putPersonLocked(p, at)
	}
	for _, o := range []Organization{
		{ID: BountySoapID, Name: "Bounty Soap Inc.", Slug: "bounty_soap_inc", CountryCode: "DE", Kinds: []string{"printer"}},
		{ID: GalacticPrintID, Name: "Galactic Print Inc.", Slug: "galactic_print_inc", CountryCode: "GB", Kinds: []string{"printer", "agency"}},
		{ID: AnalyticalEnginesID, Name: "Analytical Engines Ltd.", Slug: "analytical_engines_ltd", CountryCode: "GB", Kinds: []string{"supplier"}},
	} {
		h.putOrgLocked(o, at)
	}
	for _, m := range []struct {
		id, person, org string
		roles           []string
	}{
		{"b8a1cd10-4e5f-4a6b-9c7d-1e2f3a4b5c01", FrankID, BountySoapID, []string{"owner"}},
		{"0a4503fe-6b7c-4d8e-8f9a-0b1c2d3e4f02", FrankID, GalacticPrintID, []string{"member"}},
		{"4c2d8e6f-1a3b-4c5d-9e7f-8a9b0c1d2e03", ErikaID, GalacticPrintID, []string{"admin"}},
		{"7e9f1a2b-3c4d-4e5f-a6b7-c8d9e0f1a204", MaxID, BountySoapID, []string{"member"}},
		{"9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c05", MaxID, GalacticPrintID, []string{"member", "designer"}},
		{"d1e2f3a4-b5c6-4d7e-9f8a-b9c0d1e2f306", AdaID, AnalyticalEnginesID, []string{"owner"}},
	} {
		h.setRolesLocked(m.id, m.person, m.org, m.roles, at)
	}
	if _, ok := h.apps[OtherAppClientID]; !ok {
		h.apps[OtherAppClientID] = App{ClientID: OtherAppClientID, ClientSecret: OtherAppSecret, Name: OtherAppName,
			RedirectURIs: []string{"https://another-app.example/callback"}}
	}
	h.seeded = true
	for _, a := range h.apps {
		h.seedGrantsLocked(a)
	}
}
