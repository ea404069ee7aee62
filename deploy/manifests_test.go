package deploy

import (
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The manifests as a whole: every object parses against the schema subset,
// and the objects agree with each other and with hubgate's contract.
func TestKubernetes(t *testing.T) {
	for _, name := range []string{"bolt", "postgres"} {
		t.Run(name, func(t *testing.T) {
			v := loadVariant(t, name)
			v.check(t)
			switch name {
			case "bolt":
				v.checkBolt(t)
			case "postgres":
				v.checkPostgres(t)
			}
		})
	}
}

func (v *variant) check(t *testing.T) {
	d := v.deployment(t)
	c := v.hubgateContainer(t)
	pod := &d.Spec.Template.Spec
	tmplLabels := d.Spec.Template.Metadata.Labels
	checkLabels(t, "pod template labels", tmplLabels)
	sel := d.Spec.Selector.MatchLabels
	if !selects(sel, tmplLabels) {
		t.Errorf("Deployment selector %v does not select its pod template labels %v", sel, tmplLabels)
	}
	if len(d.Spec.Selector.MatchExpressions) > 0 {
		t.Errorf("Deployment selector: use matchLabels only (the other objects select the same pods)")
	}

	// Every applied object is unique.
	seen := map[string]bool{}
	for _, k := range v.applied {
		if seen[k] {
			t.Errorf("%s applied twice", k)
		}
		seen[k] = true
	}

	// Image and command: the image's ENTRYPOINT is /hubgate.
	if len(v.kust.Images) != 1 || v.kust.Images[0].Name != c.Image {
		t.Errorf("container image %q is not the one kustomization.yaml images: rewrites (%+v)", c.Image, v.kust.Images)
	}
	if len(c.Command) != 0 {
		t.Errorf("container command %v: leave the image's ENTRYPOINT (/hubgate)", c.Command)
	}
	wantArgs := []string{"serve", "--config", "/etc/hubgate/hubgate.yaml"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("container args = %q; want %q", c.Args, wantArgs)
	}
	if c.Name != "hubgate" {
		t.Errorf("container name %q; want hubgate", c.Name)
	}

	// Ports.
	ports := map[string]int{}
	for _, p := range c.Ports {
		if !ianaSvcName.MatchString(p.Name) || len(p.Name) > 15 {
			t.Errorf("container port name %q invalid", p.Name)
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			t.Errorf("container port %s = %d", p.Name, p.ContainerPort)
		}
		ports[p.Name] = p.ContainerPort
	}
	if ports["public"] == 0 || ports["admin"] == 0 || ports["metrics"] == 0 {
		t.Fatalf("container ports %v: want the named ports public, admin and metrics", ports)
	}
	portByRef := func(where string, ref intOrString) int {
		if ref.IsInt {
			return ref.Int
		}
		n, ok := ports[ref.Str]
		if !ok {
			t.Errorf("%s: port %q names no container port", where, ref.Str)
		}
		return n
	}

	// Config and listeners agree with the ports.
	cfg := loadHubgateConfig(t, v.configFile)
	if _, p := portOf(t, "hubgate.yaml listen", cfg.Listen); p != ports["public"] {
		t.Errorf("hubgate.yaml listen %q; the public container port is %d", cfg.Listen, ports["public"])
	}
	env := map[string]envVar{}
	for _, e := range c.Env {
		if !envName.MatchString(e.Name) {
			t.Errorf("env name %q invalid", e.Name)
		}
		if _, dup := env[e.Name]; dup {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e
	}
	adminListen, ok := env["HUBGATE_ADMIN_LISTEN"]
	if !ok || adminListen.Value == "" {
		t.Fatalf("env HUBGATE_ADMIN_LISTEN missing: the admin listener defaults to loopback, out of the kubelet's reach")
	}
	if host, p := portOf(t, "HUBGATE_ADMIN_LISTEN", adminListen.Value); (host != "0.0.0.0" && host != "::" && host != "") || p != ports["admin"] {
		t.Errorf("HUBGATE_ADMIN_LISTEN = %q; want all addresses on the admin container port %d", adminListen.Value, ports["admin"])
	}
	if _, p := portOf(t, "hubgate.yaml admin.listen", cfg.Admin.Listen); p != ports["admin"] {
		t.Errorf("hubgate.yaml admin.listen %q: port differs from the admin container port %d", cfg.Admin.Listen, ports["admin"])
	}
	// The metrics listener listens on the pod IP (Prometheus scrapes it
	// there) on the metrics container port.
	if cfg.Metrics.Listen == "" {
		t.Fatalf("hubgate.yaml metrics.listen missing: without it /metrics is only on the admin listener, which admits no Prometheus")
	}
	if host, p := portOf(t, "hubgate.yaml metrics.listen", cfg.Metrics.Listen); (host != "" && host != "0.0.0.0" && host != "::") || p != ports["metrics"] {
		t.Errorf("hubgate.yaml metrics.listen %q: want all addresses on the metrics container port %d", cfg.Metrics.Listen, ports["metrics"])
	}

	// Probes: liveness on the public listener's healthz (checks nothing
	// else), readiness on the admin listener's readyz (store reachable).
	checkProbe := func(name string, p *probe, path, port string) {
		t.Helper()
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", name)
			return
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s path = %q; want %q", name, p.HTTPGet.Path, path)
		}
		if got := portByRef(name, p.HTTPGet.Port); got != ports[port] {
			t.Errorf("%s port = %v (%d); want the %s port %d", name, p.HTTPGet.Port, got, port, ports[port])
		}
		if p.HTTPGet.Scheme != "" && p.HTTPGet.Scheme != "HTTP" {
			t.Errorf("%s scheme %q: hubgate's listeners speak plain HTTP", name, p.HTTPGet.Scheme)
		}
		if p.PeriodSeconds < 1 || p.FailureThreshold < 1 {
			t.Errorf("%s: set periodSeconds and failureThreshold", name)
		}
	}
	checkProbe("livenessProbe", c.LivenessProbe, "/_hubgate/healthz", "public")
	checkProbe("startupProbe", c.StartupProbe, "/_hubgate/healthz", "public")
	checkProbe("readinessProbe", c.ReadinessProbe, "/readyz", "admin")
	if c.ReadinessProbe != nil && c.ReadinessProbe.TimeoutSeconds <= 5 {
		t.Errorf("readinessProbe timeoutSeconds %d: /readyz may take its full 5 s budget; want > 5", c.ReadinessProbe.TimeoutSeconds)
	}
	if cfg.Admin.TokenFile == "" {
		t.Errorf("hubgate.yaml: admin.token_file missing: without an admin token there is no admin listener and no /readyz")
	}

	// Shutdown: after SIGTERM hubgate keeps serving for shutdown.delay
	// (readiness failing), then drains for up to shutdown.timeout; the
	// kubelet's SIGKILL must come later than both, with 5 s to spare.
	delay, timeout := cfg.shutdown(t)
	if delay <= 0 {
		t.Errorf("hubgate.yaml shutdown.delay %v: want > 0, so that requests still routed here during the endpoint update are answered", delay)
	}
	need := int((delay + timeout).Seconds()) + 5
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g < need {
		t.Errorf("terminationGracePeriodSeconds %s: want ≥ shutdown.delay %v + shutdown.timeout %v + 5 s = %d", show(g), delay, timeout, need)
	}
	// No preStop hook, not even a commented one: hubgate's own delay does
	// what a preStop sleep would, and the manifest says so.
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		t.Errorf("lifecycle.preStop set: hubgate keeps serving for shutdown.delay by itself")
	}
	raw := readFile(t, filepath.Join(v.dir, "deployment.yaml"))
	if regexp.MustCompile(`(?m)^\s*#\s*(lifecycle|preStop):`).MatchString(raw) {
		t.Errorf("deployment.yaml: a commented-out preStop hook; remove it (shutdown.delay replaces it)")
	}
	if !strings.Contains(raw, "No preStop hook") || !strings.Contains(raw, "shutdown.delay") {
		t.Errorf("deployment.yaml: say in a comment why there is no preStop hook (hubgate serves for shutdown.delay after SIGTERM)")
	}

	// Security.
	psc := pod.SecurityContext
	if psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot must be true")
	}
	if psc.RunAsUser == nil || *psc.RunAsUser != 65532 || psc.RunAsGroup == nil || *psc.RunAsGroup != 65532 {
		t.Errorf("pod securityContext runAsUser/runAsGroup: want 65532 (the image's USER)")
	}
	if psc.FSGroup == nil || *psc.FSGroup != 65532 {
		t.Errorf("pod securityContext.fsGroup: want 65532 (secret files and the data volume readable by hubgate)")
	}
	if psc.SeccompProfile == nil || psc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("pod securityContext.seccompProfile: want RuntimeDefault")
	}
	csc := c.SecurityContext
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
		t.Errorf("container allowPrivilegeEscalation must be false")
	}
	if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
		t.Errorf("container readOnlyRootFilesystem must be true")
	}
	if csc.Privileged != nil && *csc.Privileged {
		t.Errorf("container must not be privileged")
	}
	if !slices.Equal(csc.Capabilities.Drop, []string{"ALL"}) || len(csc.Capabilities.Add) > 0 {
		t.Errorf("container capabilities: drop [ALL], add none; got drop %v add %v", csc.Capabilities.Drop, csc.Capabilities.Add)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken must be false: hubgate never calls the Kubernetes API")
	}

	// Resources: requests for scheduling (and the HPA), a memory limit, and
	// GOMEMLIMIT below it.
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("resources.requests.%s missing", r)
		}
	}
	limit, err := quantityBytes(c.Resources.Limits["memory"])
	if err != nil || limit <= 0 {
		t.Errorf("resources.limits.memory %q: %v", c.Resources.Limits["memory"], err)
	}
	if e, ok := env["GOMEMLIMIT"]; ok {
		soft, err := quantityBytes(e.Value)
		if err != nil || soft >= limit || soft < limit*3/4 {
			t.Errorf("GOMEMLIMIT %q: want 75–99%% of the memory limit %s (%v)", e.Value, c.Resources.Limits["memory"], err)
		}
	}

	// Volumes and mounts.
	vols := map[string]*volume{}
	for i := range pod.Volumes {
		vol := &pod.Volumes[i]
		if vols[vol.Name] != nil {
			t.Errorf("volume %s defined twice", vol.Name)
		}
		vols[vol.Name] = vol
	}
	mounted := map[string]string{} // volume → mount path
	writable := map[string]bool{}  // mount path → writable
	for _, m := range c.VolumeMounts {
		if vols[m.Name] == nil {
			t.Errorf("volumeMount %s: no such volume", m.Name)
			continue
		}
		mounted[m.Name] = m.MountPath
		writable[m.MountPath] = !m.ReadOnly
	}
	for name := range vols {
		if mounted[name] == "" {
			t.Errorf("volume %s is never mounted", name)
		}
	}
	var cmVol, secVol *volume
	for _, vol := range pod.Volumes {
		if vol.ConfigMap != nil && vol.ConfigMap.Name == v.configName {
			cmVol = vols[vol.Name]
		}
		if vol.Secret != nil {
			secVol = vols[vol.Name]
		}
		if vol.EmptyDir == nil && vol.ConfigMap == nil && vol.Secret == nil && vol.PersistentVolumeClaim == nil {
			t.Errorf("volume %s: no source", vol.Name)
		}
		if vol.PersistentVolumeClaim != nil && !slices.ContainsFunc(v.pvcs, func(p persistentVolumeClaim) bool { return p.Metadata.Name == vol.PersistentVolumeClaim.ClaimName }) {
			t.Errorf("volume %s: PersistentVolumeClaim %q is not in this variant", vol.Name, vol.PersistentVolumeClaim.ClaimName)
		}
	}
	if cmVol == nil {
		t.Fatalf("no volume mounts the ConfigMap %q that kustomization.yaml generates", v.configName)
	}
	if mounted[cmVol.Name] != "/etc/hubgate" || writable["/etc/hubgate"] {
		t.Errorf("ConfigMap volume: mount it read-only at /etc/hubgate (the --config path's directory), got %q", mounted[cmVol.Name])
	}
	if !slices.ContainsFunc(cmVol.ConfigMap.Items, func(k keyToPath) bool { return k.Key == "hubgate.yaml" && k.Path == "hubgate.yaml" }) {
		t.Errorf("ConfigMap volume items: want key hubgate.yaml at path hubgate.yaml")
	}
	if writable["/tmp"] != true {
		t.Errorf("/tmp: mount a writable emptyDir (the root filesystem is read-only)")
	}

	// Secrets: every *_file key of hubgate.yaml is a file of the Secret
	// volume, every item and secretKeyRef names a key of the Secret.
	sec := v.secret(t)
	if secVol == nil {
		t.Fatalf("no Secret volume")
	}
	if secVol.Secret.SecretName != sec.Metadata.Name {
		t.Errorf("Secret volume names %q; secret.example.yaml defines %q", secVol.Secret.SecretName, sec.Metadata.Name)
	}
	if m := secVol.Secret.DefaultMode; m == nil || *m != 0o440 {
		t.Errorf("Secret volume defaultMode %s: want 0440 (owner root, group fsGroup)", show(m))
	}
	secPath := mounted[secVol.Name]
	if writable[secPath] {
		t.Errorf("Secret volume must be mounted read-only")
	}
	itemPaths := map[string]bool{}
	for _, it := range secVol.Secret.Items {
		if _, ok := sec.StringData[it.Key]; !ok {
			t.Errorf("Secret volume item %q: not a key of secret.example.yaml", it.Key)
		}
		itemPaths[it.Path] = true
	}
	for key, path := range cfg.secretFiles() {
		dir, file := filepath.Split(path)
		if filepath.Clean(dir) != secPath {
			t.Errorf("hubgate.yaml %s = %q: not in the Secret mount %s", key, path, secPath)
		}
		if len(secVol.Secret.Items) > 0 && !itemPaths[file] {
			t.Errorf("hubgate.yaml %s = %q: the Secret volume's items do not project %s", key, path, file)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			r := e.ValueFrom.SecretKeyRef
			if r.Name != sec.Metadata.Name {
				t.Errorf("env %s: secretKeyRef %q; the Secret is %q", e.Name, r.Name, sec.Metadata.Name)
			}
			if _, ok := sec.StringData[r.Key]; !ok {
				t.Errorf("env %s: secretKeyRef key %q is not in secret.example.yaml", e.Name, r.Key)
			}
		}
	}
	if slices.Contains(v.applied, "Secret/"+sec.Metadata.Name) {
		t.Errorf("the Secret is applied by kustomization.yaml: a re-apply would overwrite real secrets with placeholders")
	}

	// Services.
	var public, admin, metrics *service
	for i := range v.services {
		s := &v.services[i]
		if !selects(s.Spec.Selector, tmplLabels) {
			t.Errorf("Service %s selector %v does not select the hubgate pods", s.Metadata.Name, s.Spec.Selector)
		}
		if s.Spec.Type != "" && s.Spec.Type != "ClusterIP" {
			t.Errorf("Service %s type %q: ClusterIP (put an Ingress or Gateway in front of the public one)", s.Metadata.Name, s.Spec.Type)
		}
		if len(s.Spec.Ports) == 0 {
			t.Errorf("Service %s has no ports", s.Metadata.Name)
		}
		for _, p := range s.Spec.Ports {
			target := portByRef("Service "+s.Metadata.Name, p.TargetPort)
			if p.Port < 1 || p.Port > 65535 {
				t.Errorf("Service %s port %d", s.Metadata.Name, p.Port)
			}
			switch target {
			case ports["public"]:
				public = s
			case ports["admin"]:
				admin = s
			case ports["metrics"]:
				metrics = s
			}
		}
	}
	if public == nil || admin == nil || metrics == nil {
		t.Fatalf("want one Service each for the public, admin and metrics ports")
	}
	if public == admin || public == metrics || admin == metrics {
		t.Errorf("Services public %s, admin %s, metrics %s: each listener gets its own ClusterIP Service", public.Metadata.Name, admin.Metadata.Name, metrics.Metadata.Name)
	}

	// Disruption budget, network policy, autoscaler: same pods.
	if len(v.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(v.pdbs))
	}
	if !selects(v.pdbs[0].Spec.Selector.MatchLabels, tmplLabels) {
		t.Errorf("PodDisruptionBudget selector does not select the hubgate pods")
	}
	if (v.pdbs[0].Spec.MinAvailable == nil) == (v.pdbs[0].Spec.MaxUnavailable == nil) {
		t.Errorf("PodDisruptionBudget: set exactly one of minAvailable and maxUnavailable")
	}
	if len(v.netpols) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(v.netpols))
	}
	np := v.netpols[0]
	if !selects(np.Spec.PodSelector.MatchLabels, tmplLabels) {
		t.Errorf("NetworkPolicy podSelector does not select the hubgate pods")
	}
	if !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
		t.Errorf("NetworkPolicy policyTypes must include Ingress")
	}
	var publicOpen, adminRestricted, metricsFromMonitoring bool
	for _, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			if p.Port == nil {
				t.Errorf("NetworkPolicy rule without a port opens every port")
				continue
			}
			switch portByRef("NetworkPolicy", *p.Port) {
			case ports["public"]:
				publicOpen = true
			case ports["admin"]:
				if len(r.From) == 0 {
					t.Errorf("NetworkPolicy: the admin port is open to everyone")
				}
				adminRestricted = len(r.From) > 0
			case ports["metrics"]:
				// Prometheus runs in the namespace "monitoring"; the metrics
				// listener has no token, so nobody else may reach it.
				if len(r.From) == 0 {
					t.Errorf("NetworkPolicy: the metrics port is open to everyone")
				}
				for _, peer := range r.From {
					if peer.IPBlock != nil || peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" {
						t.Errorf("NetworkPolicy: metrics port peer %+v: want namespaceSelector kubernetes.io/metadata.name: monitoring", peer)
					}
				}
				metricsFromMonitoring = len(r.From) > 0
			}
		}
	}
	if !publicOpen || !adminRestricted || !metricsFromMonitoring {
		t.Errorf("NetworkPolicy: want the public port admitted, the admin port admitted only from selected peers, and the metrics port from the monitoring namespace")
	}
	for _, h := range v.hpas {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Metadata.Name {
			t.Errorf("HorizontalPodAutoscaler targets %s %s/%s; want the Deployment %s", ref.APIVersion, ref.Kind, ref.Name, d.Metadata.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			t.Errorf("HorizontalPodAutoscaler replicas %s..%d", show(h.Spec.MinReplicas), h.Spec.MaxReplicas)
		}
		if c.Resources.Requests["cpu"] == "" {
			t.Errorf("HorizontalPodAutoscaler on CPU needs a CPU request")
		}
	}
}

func (v *variant) checkBolt(t *testing.T) {
	d := v.deployment(t)
	c := v.hubgateContainer(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %s: bbolt has one writer; want 1", show(d.Spec.Replicas))
	}
	if d.Spec.Strategy.Type != "Recreate" || d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("strategy %q: want Recreate (the old pod must release the bbolt file first)", d.Spec.Strategy.Type)
	}
	// Operators choose a variant here: the manifest says what Recreate costs.
	raw := readFile(t, filepath.Join(v.dir, "deployment.yaml"))
	for _, want := range []string{"Recreate", "ONE writer", "outage", "postgres variant"} {
		if !strings.Contains(raw, want) {
			t.Errorf("deployment.yaml: the comment on the strategy must explain Recreate (one bbolt writer, a short outage per rollout, the postgres variant for none); %q missing", want)
		}
	}
	cfg := loadHubgateConfig(t, v.configFile)
	path, ok := strings.CutPrefix(cfg.Store, "bolt://")
	if !ok || !strings.HasPrefix(path, "/") {
		t.Fatalf("hubgate.yaml store %q: want bolt:///absolute/path", cfg.Store)
	}
	var onVolume bool
	for _, m := range c.VolumeMounts {
		for _, vol := range d.Spec.Template.Spec.Volumes {
			if vol.Name == m.Name && vol.PersistentVolumeClaim != nil && !m.ReadOnly && strings.HasPrefix(path, m.MountPath+"/") {
				onVolume = true
			}
		}
	}
	if !onVolume {
		t.Errorf("store %q is not on a writable PersistentVolumeClaim mount", cfg.Store)
	}
	if len(v.pvcs) != 1 {
		t.Fatalf("%d PersistentVolumeClaims, want 1", len(v.pvcs))
	}
	p := v.pvcs[0]
	if len(p.Spec.AccessModes) != 1 || (p.Spec.AccessModes[0] != "ReadWriteOnce" && p.Spec.AccessModes[0] != "ReadWriteOncePod") {
		t.Errorf("PVC accessModes %v: want ReadWriteOnce (or ReadWriteOncePod)", p.Spec.AccessModes)
	}
	if _, err := quantityBytes(p.Spec.Resources.Requests["storage"]); err != nil {
		t.Errorf("PVC storage request %q: %v", p.Spec.Resources.Requests["storage"], err)
	}
	pdb := v.pdbs[0].Spec
	if pdb.MaxUnavailable == nil || pdb.MaxUnavailable.String() != "1" {
		t.Errorf("PodDisruptionBudget: want maxUnavailable 1 (a single replica must not block node drains)")
	}
	if len(v.hpas) > 0 {
		t.Errorf("a HorizontalPodAutoscaler on a bbolt Deployment would start a second writer")
	}
	if _, ok := envOf(c, "HUBGATE_STORE"); ok {
		t.Errorf("HUBGATE_STORE set: the bolt variant's store is in hubgate.yaml")
	}
}

func (v *variant) checkPostgres(t *testing.T) {
	d := v.deployment(t)
	c := v.hubgateContainer(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %s; want 3", show(d.Spec.Replicas))
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != "RollingUpdate" || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "0" || ru.MaxSurge == nil || ru.MaxSurge.String() != "1" {
		t.Errorf("strategy: want RollingUpdate with maxUnavailable 0, maxSurge 1")
	}
	pdb := v.pdbs[0].Spec
	if pdb.MinAvailable == nil || pdb.MinAvailable.String() != "2" {
		t.Errorf("PodDisruptionBudget: want minAvailable 2")
	}
	tsc := d.Spec.Template.Spec.TopologySpreadConstraints
	if len(tsc) == 0 {
		t.Errorf("want topologySpreadConstraints")
	}
	keys := map[string]bool{}
	for _, c := range tsc {
		keys[c.TopologyKey] = true
		if !selects(c.LabelSelector.MatchLabels, d.Spec.Template.Metadata.Labels) {
			t.Errorf("topologySpreadConstraint %s: labelSelector does not select the hubgate pods", c.TopologyKey)
		}
		if c.MaxSkew < 1 || (c.WhenUnsatisfiable != "DoNotSchedule" && c.WhenUnsatisfiable != "ScheduleAnyway") {
			t.Errorf("topologySpreadConstraint %s: maxSkew %d whenUnsatisfiable %q", c.TopologyKey, c.MaxSkew, c.WhenUnsatisfiable)
		}
	}
	if !keys["kubernetes.io/hostname"] {
		t.Errorf("topologySpreadConstraints: spread over nodes (kubernetes.io/hostname)")
	}
	cfg := loadHubgateConfig(t, v.configFile)
	if cfg.Store != "" {
		t.Errorf("hubgate.yaml store %q: the postgres URL holds a password; it comes from the Secret via HUBGATE_STORE", cfg.Store)
	}
	e, ok := envOf(c, "HUBGATE_STORE")
	if !ok || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || (e.ValueFrom.SecretKeyRef.Optional != nil && *e.ValueFrom.SecretKeyRef.Optional) {
		t.Fatalf("HUBGATE_STORE: want a required secretKeyRef")
	}
	url := v.secret(t).StringData[e.ValueFrom.SecretKeyRef.Key]
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		t.Errorf("secret.example.yaml %s = %q: want a postgres:// URL", e.ValueFrom.SecretKeyRef.Key, url)
	}
	if len(v.pvcs) != 0 {
		t.Errorf("PersistentVolumeClaims in the postgres variant: the replicas keep no local state")
	}
	for _, h := range v.hpas {
		if min := h.Spec.MinReplicas; min == nil || *min < pdb.MinAvailable.Int+1 {
			t.Errorf("HorizontalPodAutoscaler minReplicas %s: want ≥ minAvailable+1 = %d, or drains block", show(min), pdb.MinAvailable.Int+1)
		}
	}
}

// Both variants expose the same Services, ports and policy: an operator
// switching from bolt to postgres changes nothing in front of hubgate.
func TestKubernetesVariantsAgree(t *testing.T) {
	bolt, pg := loadVariant(t, "bolt"), loadVariant(t, "postgres")
	for _, f := range []string{"service.yaml", "service-admin.yaml", "service-metrics.yaml", "networkpolicy.yaml"} {
		a := readFile(t, filepath.Join(bolt.dir, f))
		b := readFile(t, filepath.Join(pg.dir, f))
		if a != b {
			t.Errorf("%s differs between the bolt and postgres variants", f)
		}
	}
	keys := func(s map[string]string) []string {
		var out []string
		for k := range s {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	bk := keys(bolt.secret(t).StringData)
	pk := slices.DeleteFunc(keys(pg.secret(t).StringData), func(k string) bool { return k == "store_url" })
	if !slices.Equal(bk, pk) {
		t.Errorf("Secret keys differ: bolt %v, postgres %v (+store_url)", bk, pk)
	}
}
