package devop

// The demo users loaded by Config.Seed. Their subjects have the shapes real
// providers use (Google's digits, Okta's ids, Keycloak's UUIDs, Entra ID's
// pairwise base64), so that a relying party shows it takes any sub.
//
//	user           groups                        roles
//	Alice Admin    acme-admins, acme-users       app-admin
//	Bob User       acme-users                    app-user
//	Grace Owner    globex-owners, acme-users
//	Dave Nogroups
const (
	AliceID = "248289761001"
	BobID   = "00u1ab2cd3EF4gh5I6j7"
	GraceID = "d5a3c2b1-0f4e-4c6b-9a8d-7e6f5a4b3c01"
	DaveID  = "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"
)

func seedUsers() []User {
	return []User{
		{ID: AliceID, Email: "alice@acme.example", GivenName: "Alice", FamilyName: "Admin",
			Groups: []string{"acme-admins", "acme-users"}, Roles: []string{"app-admin"}},
		{ID: BobID, Email: "bob@acme.example", GivenName: "Bob", FamilyName: "User",
			Groups: []string{"acme-users"}, Roles: []string{"app-user"}},
		{ID: GraceID, Email: "grace@globex.example", GivenName: "Grace", FamilyName: "Owner",
			Groups: []string{"globex-owners", "acme-users"}},
		{ID: DaveID, Email: "dave@example.com", GivenName: "Dave", FamilyName: "Nogroups"},
	}
}
