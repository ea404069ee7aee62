// Package deploy holds hubgate's deployment files: the container image
// (Dockerfile; ../.dockerignore), the systemd unit, the Kubernetes manifests
// (one replica on bbolt, three on PostgreSQL, and the Prometheus Operator's
// ServiceMonitor and PrometheusRule), the alert rules as a plain Prometheus
// rules file with promtool unit tests, a Grafana dashboard, example
// configurations, and nginx/Traefik forward-auth examples. See README.md in
// this directory.
//
// The package has no Go code of its own. Its tests check the files against
// the contracts they depend on: they parse every manifest strictly, check
// labels, selectors, probes, ports, shutdown timing and security settings
// against each other, run `hubgate config check` on every configuration
// (with the real loader, built from ../cmd/hubgate), start hubgate to hit
// the probe paths the manifests name, check the alert rules and the
// dashboard against the metrics contract of issue 14 (opscontract_test.go),
// run promtool where installed, and, where nginx is installed, run the nginx
// example against stub servers. It never builds an image or talks to a
// cluster. The script ./validate adds the checks that need outside tools
// (systemd-analyze, kubectl/kustomize, kubeconform, promtool, nginx, a
// Dockerfile linter).
//
// It owns these files and their checks, never hubgate's behaviour: every
// setting they use is one cmd/hubgate defines, and no production example
// carries a secret (they name files to read secrets from; only the dev
// configuration holds published, dev-only values).
package deploy
