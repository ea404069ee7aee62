// Package deploy holds hubgate's deployment files: the container image
// (Dockerfile), the systemd unit, the Kubernetes manifests (one replica on
// bbolt, three on PostgreSQL), example configurations, and nginx/Traefik
// forward-auth examples. See README.md in this directory.
//
// The package has no Go code of its own. Its tests check the files against
// the contract they depend on: they parse every manifest strictly, check
// labels, selectors, probes, ports and security settings against each
// other, run `hubgate config check` on every configuration (with the real
// loader, built from ../cmd/hubgate), start hubgate to hit the probe paths
// the manifests name, and, where nginx is installed, run the nginx example
// against stub servers. The script ./validate adds the checks that need
// outside tools (systemd-analyze, kubectl/kustomize, kubeconform, nginx,
// a Dockerfile linter).
//
// It owns these files and their checks, never hubgate's behaviour: every
// setting they use is one cmd/hubgate defines, and no production example
// carries a secret (they name files to read secrets from; only the dev
// configuration holds published, dev-only values).
package deploy
