package oidc

// HasOrganizations reports whether a Mapping makes organizations of a
// claim. Without one no person has memberships, and org claims are off.
func (c *Client) HasOrganizations() bool { return c.mapping.claim != "" }
