package deploy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// variant is one directory of deploy/kubernetes, decoded.
type variant struct {
	name    string
	dir     string
	kust    kustomization
	kustRaw string
	// configFile is the hubgate.yaml that configMapGenerator turns into the
	// ConfigMap configName.
	configFile string
	configName string

	deployments []deployment
	services    []service
	secrets     []secret // from *.example.yaml: the keys hubgate expects
	pvcs        []persistentVolumeClaim
	pdbs        []podDisruptionBudget
	netpols     []networkPolicy
	hpas        []horizontalPodAutoscaler
	monitors    []serviceMonitor
	rules       []prometheusRule
	// applied lists the "Kind/name" of every object kustomization.yaml
	// applies.
	applied []string
}

// apiVersions is the API group/version each kind must use (the stable
// ones, served by every supported Kubernetes release).
var apiVersions = map[string]string{
	"Deployment":              "apps/v1",
	"Service":                 "v1",
	"Secret":                  "v1",
	"ConfigMap":               "v1",
	"PersistentVolumeClaim":   "v1",
	"PodDisruptionBudget":     "policy/v1",
	"NetworkPolicy":           "networking.k8s.io/v1",
	"HorizontalPodAutoscaler": "autoscaling/v2",
	"Kustomization":           "kustomize.config.k8s.io/v1beta1",
	"ServiceMonitor":          "monitoring.coreos.com/v1",
	"PrometheusRule":          "monitoring.coreos.com/v1",
}

// notApplied are files kept beside the manifests but deliberately left out
// of kustomization.yaml (which must say so in a comment).
var notApplied = map[string]bool{"secret.example.yaml": true, "hpa.yaml": true}

var (
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	dns1035Label     = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	labelValue       = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	labelName        = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	ianaSvcName      = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	envName          = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func loadVariant(t *testing.T, name string) *variant {
	t.Helper()
	v := &variant{name: name, dir: filepath.Join(repoRoot(t), "deploy", "kubernetes", name)}
	kpath := filepath.Join(v.dir, "kustomization.yaml")
	v.kustRaw = readFile(t, kpath)
	docs := yamlDocs(t, kpath)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", rel(t, kpath), len(docs))
	}
	if err := decodeStrict(docs[0], &v.kust); err != nil {
		t.Fatalf("%s: %v", rel(t, kpath), err)
	}
	checkTypeMeta(t, rel(t, kpath), v.kust.typeMeta)
	if v.kust.Namespace != "" {
		t.Errorf("%s: namespace %q: the variants are namespace-agnostic (kubectl -n, or an overlay)", rel(t, kpath), v.kust.Namespace)
	}
	generated := map[string]bool{}
	if len(v.kust.ConfigMapGenerator) != 1 || len(v.kust.ConfigMapGenerator[0].Files) != 1 {
		t.Fatalf("%s: want one configMapGenerator with one file (hubgate.yaml)", rel(t, kpath))
	}
	g := v.kust.ConfigMapGenerator[0]
	v.configName = g.Name
	v.configFile = filepath.Join(v.dir, g.Files[0])
	generated[g.Files[0]] = true
	if filepath.Base(g.Files[0]) != "hubgate.yaml" {
		t.Errorf("%s: configMapGenerator file %q: want hubgate.yaml (the key the Deployment mounts)", rel(t, kpath), g.Files[0])
	}
	v.applied = append(v.applied, "ConfigMap/"+g.Name)

	entries, err := os.ReadDir(v.dir)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, r := range v.kust.Resources {
		listed[r] = true
		if _, err := os.Stat(filepath.Join(v.dir, r)); err != nil {
			t.Errorf("%s: resource %s: %v", rel(t, kpath), r, err)
		}
	}
	for _, e := range entries {
		f := e.Name()
		if e.IsDir() || !(strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			continue
		}
		if f == "kustomization.yaml" || generated[f] {
			continue
		}
		switch {
		case listed[f]:
		case notApplied[f]:
			if !strings.Contains(v.kustRaw, f) {
				t.Errorf("%s: %s is not applied; say so (and why) in a comment", rel(t, kpath), f)
			}
		default:
			t.Errorf("%s: %s is neither a resource nor a documented exception", rel(t, kpath), f)
		}
		v.decodeFile(t, filepath.Join(v.dir, f), listed[f])
	}
	return v
}

// loadMonitoring loads deploy/kubernetes/monitoring: a kustomization of
// Prometheus Operator objects that either variant may include.
func loadMonitoring(t *testing.T) *variant {
	t.Helper()
	v := &variant{name: "monitoring", dir: filepath.Join(repoRoot(t), "deploy", "kubernetes", "monitoring")}
	kpath := filepath.Join(v.dir, "kustomization.yaml")
	v.kustRaw = readFile(t, kpath)
	docs := yamlDocs(t, kpath)
	if len(docs) != 1 {
		t.Fatalf("%s: %d documents, want 1", rel(t, kpath), len(docs))
	}
	if err := decodeStrict(docs[0], &v.kust); err != nil {
		t.Fatalf("%s: %v", rel(t, kpath), err)
	}
	checkTypeMeta(t, rel(t, kpath), v.kust.typeMeta)
	if v.kust.Namespace != "" || len(v.kust.ConfigMapGenerator) > 0 || len(v.kust.Images) > 0 {
		t.Errorf("%s: only resources here (no namespace, generator or images)", rel(t, kpath))
	}
	entries, err := os.ReadDir(v.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		f := e.Name()
		if e.IsDir() || f == "kustomization.yaml" {
			continue
		}
		if !slices.Contains(v.kust.Resources, f) {
			t.Errorf("%s: %s is not a resource", rel(t, kpath), f)
		}
	}
	for _, r := range v.kust.Resources {
		v.decodeFile(t, filepath.Join(v.dir, r), true)
	}
	return v
}

// decodeFile decodes every object of a manifest file strictly into its type.
func (v *variant) decodeFile(t *testing.T, path string, applied bool) {
	t.Helper()
	for i, doc := range yamlDocs(t, path) {
		where := fmt.Sprintf("%s[%d]", rel(t, path), i)
		var tm typeMeta
		if err := doc.Decode(&tm); err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		checkTypeMeta(t, where, tm)
		var meta *objectMeta
		var err error
		switch tm.Kind {
		case "Deployment":
			var o deployment
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.deployments = append(v.deployments, o)
		case "Service":
			var o service
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.services = append(v.services, o)
		case "Secret":
			var o secret
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.secrets = append(v.secrets, o)
		case "PersistentVolumeClaim":
			var o persistentVolumeClaim
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.pvcs = append(v.pvcs, o)
		case "PodDisruptionBudget":
			var o podDisruptionBudget
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.pdbs = append(v.pdbs, o)
		case "NetworkPolicy":
			var o networkPolicy
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.netpols = append(v.netpols, o)
		case "HorizontalPodAutoscaler":
			var o horizontalPodAutoscaler
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.hpas = append(v.hpas, o)
		case "ConfigMap":
			var o configMap
			err, meta = decodeStrict(doc, &o), &o.Metadata
		case "ServiceMonitor":
			var o serviceMonitor
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.monitors = append(v.monitors, o)
		case "PrometheusRule":
			var o prometheusRule
			err, meta = decodeStrict(doc, &o), &o.Metadata
			v.rules = append(v.rules, o)
		default:
			t.Errorf("%s: kind %q: no schema here; extend kube_types_test.go", where, tm.Kind)
			continue
		}
		if err != nil {
			t.Errorf("%s (%s): %v", where, tm.Kind, err)
			continue
		}
		checkMeta(t, where, tm.Kind, *meta)
		if applied {
			v.applied = append(v.applied, tm.Kind+"/"+meta.Name)
		}
	}
}

func checkTypeMeta(t *testing.T, where string, tm typeMeta) {
	t.Helper()
	want, ok := apiVersions[tm.Kind]
	switch {
	case tm.Kind == "":
		t.Errorf("%s: kind missing", where)
	case !ok:
		t.Errorf("%s: kind %q unknown here", where, tm.Kind)
	case tm.APIVersion != want:
		t.Errorf("%s: %s apiVersion = %q; want %q", where, tm.Kind, tm.APIVersion, want)
	}
}

func checkMeta(t *testing.T, where, kind string, m objectMeta) {
	t.Helper()
	re := dns1123Subdomain
	if kind == "Service" {
		re = dns1035Label // Service names become DNS labels
	}
	if m.Name == "" || len(m.Name) > 63 || !re.MatchString(m.Name) {
		t.Errorf("%s: metadata.name %q is not a valid %s name", where, m.Name, kind)
	}
	if m.Namespace != "" {
		t.Errorf("%s: metadata.namespace %q: manifests are namespace-agnostic", where, m.Namespace)
	}
	checkLabels(t, where+" metadata.labels", m.Labels)
	if m.Labels["app.kubernetes.io/name"] != "hubgate" {
		t.Errorf("%s: label app.kubernetes.io/name = %q; want hubgate", where, m.Labels["app.kubernetes.io/name"])
	}
}

func checkLabels(t *testing.T, where string, labels map[string]string) {
	t.Helper()
	for k, val := range labels {
		if !labelName.MatchString(k) || len(k) > 316 {
			t.Errorf("%s: label key %q invalid", where, k)
		}
		if len(val) > 63 || !labelValue.MatchString(val) {
			t.Errorf("%s: label %s value %q invalid", where, k, val)
		}
	}
}

// selects reports whether selector (matchLabels only) selects labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// hubgateConfig is what the manifests' checks need from hubgate.yaml.
type hubgateConfig struct {
	Listen   string `yaml:"listen"`
	Store    string `yaml:"store"`
	Provider struct {
		ClientSecretFile  string `yaml:"client_secret_file"`
		WebhookSecretFile string `yaml:"webhook_secret_file"`
	} `yaml:"provider"`
	Session struct {
		SecretsFile string `yaml:"secrets_file"`
	} `yaml:"session"`
	Admin struct {
		Listen    string `yaml:"listen"`
		TokenFile string `yaml:"token_file"`
	} `yaml:"admin"`
	Claims struct {
		SMTPFile string `yaml:"smtp_file"`
	} `yaml:"claims"`
	Metrics struct {
		Listen string `yaml:"listen"`
	} `yaml:"metrics"`
	Shutdown struct {
		Delay   string `yaml:"delay"`
		Timeout string `yaml:"timeout"`
	} `yaml:"shutdown"`
}

// shutdown returns shutdown.delay and shutdown.timeout, the contract's
// defaults where unset.
func (c hubgateConfig) shutdown(t *testing.T) (delay, timeout time.Duration) {
	t.Helper()
	delay, timeout = shutdownDefaults()
	for _, d := range []struct {
		key, val string
		dst      *time.Duration
	}{{"shutdown.delay", c.Shutdown.Delay, &delay}, {"shutdown.timeout", c.Shutdown.Timeout, &timeout}} {
		if d.val == "" {
			continue
		}
		v, err := time.ParseDuration(d.val)
		if err != nil {
			t.Errorf("hubgate.yaml %s %q: %v", d.key, d.val, err)
			continue
		}
		*d.dst = v
	}
	return delay, timeout
}

func (c hubgateConfig) secretFiles() map[string]string {
	m := map[string]string{
		"provider.client_secret_file":  c.Provider.ClientSecretFile,
		"provider.webhook_secret_file": c.Provider.WebhookSecretFile,
		"session.secrets_file":         c.Session.SecretsFile,
		"admin.token_file":             c.Admin.TokenFile,
		"claims.smtp_file":             c.Claims.SMTPFile,
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func loadHubgateConfig(t *testing.T, path string) hubgateConfig {
	t.Helper()
	var c hubgateConfig
	if err := yaml.Unmarshal([]byte(readFile(t, path)), &c); err != nil {
		t.Fatalf("%s: %v", rel(t, path), err)
	}
	return c
}

func portOf(t *testing.T, where, hostport string) (string, int) {
	t.Helper()
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: %q: port %v", where, hostport, err)
	}
	return host, n
}

// quantityBytes reads a memory quantity ("256Mi") or a GOMEMLIMIT value
// ("230MiB").
func quantityBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mul    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}, {"B", 1}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.mul, err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

func (v *variant) deployment(t *testing.T) *deployment {
	t.Helper()
	if len(v.deployments) != 1 {
		t.Fatalf("%s: %d Deployments, want 1", v.name, len(v.deployments))
	}
	return &v.deployments[0]
}

func (v *variant) hubgateContainer(t *testing.T) *container {
	t.Helper()
	d := v.deployment(t)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", v.name, len(d.Spec.Template.Spec.Containers))
	}
	return &d.Spec.Template.Spec.Containers[0]
}

func (v *variant) secret(t *testing.T) *secret {
	t.Helper()
	if len(v.secrets) != 1 {
		t.Fatalf("%s: %d Secrets (secret.example.yaml), want 1", v.name, len(v.secrets))
	}
	return &v.secrets[0]
}

// show prints an optional integer.
func show(p *int) string {
	if p == nil {
		return "(unset)"
	}
	return strconv.Itoa(*p)
}

func envOf(c *container, name string) (envVar, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e, true
		}
	}
	return envVar{}, false
}
