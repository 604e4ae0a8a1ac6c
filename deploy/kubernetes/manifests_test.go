package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The manifests are checked offline: each document is decoded strictly
// into the Kubernetes API type of its kind (k8s.io/api, the types the API
// server itself decodes into), so an unknown or misspelt field, a wrong
// type or a wrong apiVersion fails, as `kubectl apply --validate=strict`
// would; then what each deployment promises is checked, and the
// annotator container's arguments are run through `annotator check` on the
// built binary. Schema validators such as kubeconform fetch their schemas
// from the network, which CI here does not have.

type object struct {
	kind       string
	deployment *appsv1.Deployment
	secret     *corev1.Secret
	configMap  *corev1.ConfigMap
}

func load(t *testing.T, path string) []object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []object
	for i, doc := range bytes.Split(data, []byte("\n---\n")) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s document %d: %v", path, i+1, err)
		}
		var o object
		var target any
		switch meta.APIVersion + " " + meta.Kind {
		case "apps/v1 Deployment":
			o.deployment = &appsv1.Deployment{}
			target = o.deployment
		case "v1 Secret":
			o.secret = &corev1.Secret{}
			target = o.secret
		case "v1 ConfigMap":
			o.configMap = &corev1.ConfigMap{}
			target = o.configMap
		default:
			t.Fatalf("%s document %d: unexpected %s %s", path, i+1, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, target); err != nil {
			t.Fatalf("%s document %d (%s): %v", path, i+1, meta.Kind, err)
		}
		o.kind = meta.Kind
		out = append(out, o)
	}
	return out
}

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "annotator-k8s")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "annotator")
	build := exec.Command("go", "build", "-o", binary, "./cmd/annotator")
	build.Dir = "../.."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building annotator:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// check runs `annotator check` with a container's arguments.
func check(t *testing.T, args []string, env ...string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"check"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("annotator check %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func findContainer(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

// probes checks liveness on /healthz and readiness on /readyz, on the
// container's metrics port.
func probes(t *testing.T, c *corev1.Container) {
	t.Helper()
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: liveness probe is not /healthz", c.Name)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readiness probe is not /readyz", c.Name)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9464 || c.Ports[0].Name != "metrics" {
		t.Errorf("%s: want one port, metrics 9464: %v", c.Name, c.Ports)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: want a read-only root and no privilege escalation", c.Name)
	}
}

// flagValue is the value of --name=V in args.
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// The sidecar: app and annotator share the log volume; annotator reads it,
// keeps its checkpoints on a volume of its own, serves the probes and
// asks for the memory it was measured to use.
func TestSidecar(t *testing.T) {
	objs := load(t, "sidecar.yaml")
	if len(objs) != 1 || objs[0].deployment == nil {
		t.Fatalf("want one Deployment, got %d objects", len(objs))
	}
	spec := objs[0].deployment.Spec.Template.Spec
	ann := findContainer(spec.InitContainers, "annotator")
	app := findContainer(spec.Containers, "app")
	if ann == nil || app == nil {
		t.Fatal("want an annotator init container (native sidecar) and an app container")
	}
	if ann.RestartPolicy == nil || *ann.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		t.Error("annotator is not a native sidecar (restartPolicy: Always)")
	}
	probes(t, ann)
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := func(c *corev1.Container) map[string]corev1.VolumeMount {
		m := map[string]corev1.VolumeMount{}
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				t.Errorf("%s mounts %s, which the pod lacks", c.Name, vm.Name)
			}
			m[vm.MountPath] = vm
		}
		return m
	}
	annMounts, appMounts := mounts(ann), mounts(app)

	follow := flagValue(ann.Args, "follow")
	logDir := filepath.Dir(follow)
	am, ok1 := annMounts[logDir]
	pm, ok2 := appMounts[logDir]
	if !ok1 || !ok2 || am.Name != pm.Name || volumes[am.Name].EmptyDir == nil {
		t.Errorf("--follow %s: its directory is not one emptyDir mounted in both containers", follow)
	}
	if !am.ReadOnly {
		t.Error("annotator mounts the application's logs writable")
	}
	state := flagValue(ann.Args, "state")
	sm, ok := annMounts[state]
	if state == "" || !ok || sm.ReadOnly || sm.Name == am.Name {
		t.Errorf("--state %q is not a writable volume of its own", state)
	}
	if !strings.HasSuffix(flagValue(ann.Args, "metrics-addr"), ":9464") {
		t.Error("--metrics-addr does not serve the probes' port")
	}
	// Measured peak RSS following a busy log (README, Deployment): the
	// request covers it, the limit is above it.
	const measuredMiB = 17.4
	req := ann.Resources.Requests.Memory().Value()
	lim := ann.Resources.Limits.Memory().Value()
	if float64(req) < measuredMiB*(1<<20) || lim < 2*req {
		t.Errorf("memory request %d MiB / limit %d MiB do not fit the measured %.1f MiB", req>>20, lim>>20, measuredMiB)
	}
	// The binary accepts the arguments (paths need not exist for check).
	check(t, ann.Args)
}

// The Kafka stage: replicas of one Deployment share one consumer group,
// the SASL password comes from the Secret, and the config file the
// ConfigMap holds passes the binary's check.
func TestKafkaStage(t *testing.T) {
	objs := load(t, "kafka-stage.yaml")
	var dep *appsv1.Deployment
	var secret *corev1.Secret
	var cm *corev1.ConfigMap
	for _, o := range objs {
		switch {
		case o.deployment != nil:
			dep = o.deployment
		case o.secret != nil:
			secret = o.secret
		case o.configMap != nil:
			cm = o.configMap
		}
	}
	if dep == nil || secret == nil || cm == nil {
		t.Fatal("want a Deployment, a Secret and a ConfigMap")
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Error("want several replicas sharing the partitions")
	}
	spec := dep.Spec.Template.Spec
	c := findContainer(spec.Containers, "annotator")
	if c == nil {
		t.Fatal("no annotator container")
	}
	probes(t, c)
	// The highest peak RSS measured catching up on a backlog with the
	// default in-flight budget (README, "Kubernetes: the Kafka stage"): the request
	// covers it, the limit is well above it.
	const measuredMiB = 136
	req := c.Resources.Requests.Memory().Value()
	lim := c.Resources.Limits.Memory().Value()
	if float64(req) < measuredMiB*(1<<20) || lim < 2*req {
		t.Errorf("memory request %d MiB / limit %d MiB do not fit the measured %d MiB", req>>20, lim>>20, measuredMiB)
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < 30 {
		t.Error("the grace period is shorter than a worst-case stop (about 25 s)")
	}

	// The password: from the Secret's key, never in the config.
	var pw *corev1.EnvVar
	for i := range c.Env {
		if c.Env[i].Name == "ANNOTATOR_KAFKA_PASSWORD" {
			pw = &c.Env[i]
		}
	}
	if pw == nil || pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil || pw.ValueFrom.SecretKeyRef.Name != secret.Name {
		t.Fatal("ANNOTATOR_KAFKA_PASSWORD does not come from the Secret")
	}
	if _, ok := secret.StringData[pw.ValueFrom.SecretKeyRef.Key]; !ok {
		t.Errorf("the Secret has no key %q", pw.ValueFrom.SecretKeyRef.Key)
	}

	// The config file, mounted where the arguments say.
	if len(c.Args) != 2 || c.Args[0] != "-c" {
		t.Fatalf("want -c FILE, got %v", c.Args)
	}
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if strings.HasPrefix(c.Args[1], c.VolumeMounts[i].MountPath+"/") {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("%s is on no volume", c.Args[1])
	}
	if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool {
		return v.Name == mount.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name
	}) {
		t.Errorf("volume %s is not the ConfigMap %s", mount.Name, cm.Name)
	}
	toml, ok := cm.Data[filepath.Base(c.Args[1])]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", filepath.Base(c.Args[1]))
	}
	for _, want := range []string{"group = ", "topics = ", "[sinks.kafka]", `addr = "0.0.0.0:9464"`} {
		if !strings.Contains(toml, want) {
			t.Errorf("stage.toml lacks %s", want)
		}
	}
	if strings.Contains(toml, "password") {
		t.Error("stage.toml holds a password")
	}
	cfg := filepath.Join(t.TempDir(), "stage.toml")
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	check(t, []string{"-c", cfg}, "ANNOTATOR_KAFKA_PASSWORD=x")
}
