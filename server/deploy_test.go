package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deployment files cannot run here (no Docker, no cluster, no systemd as
// PID 1): these tests hold them to what the daemon needs.

type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Ports []struct {
			TargetPort any `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Volumes []struct {
					Name     string `yaml:"name"`
					EmptyDir *struct {
					} `yaml:"emptyDir"`
				} `yaml:"volumes"`
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name         string                         `yaml:"name"`
	Env          []struct{ Name, Value string } `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	LivenessProbe   *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe  *k8sProbe `yaml:"readinessProbe"`
	SecurityContext struct {
		RunAsNonRoot             bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	Resources struct {
		Limits   map[string]string `yaml:"limits"`
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
}

func TestSidecarManifest(t *testing.T) {
	f, err := os.Open("../deploy/kubernetes/sidecar.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	objs := map[string]k8sObject{}
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		objs[o.Kind] = o
	}
	dep, ok := objs["Deployment"]
	if _, svc := objs["Service"]; !ok || !svc {
		t.Fatalf("want a Deployment and a Service, got %v", slices.Collect(func(yield func(string) bool) {
			for k := range objs {
				yield(k)
			}
		}))
	}
	pod := dep.Spec.Template.Spec
	var shared string
	for _, v := range pod.Volumes {
		if v.EmptyDir != nil {
			shared = v.Name
		}
	}
	if shared == "" {
		t.Fatal("no emptyDir volume")
	}
	var app, ltd *k8sContainer
	for i := range pod.Containers {
		if pod.Containers[i].Name == "logtaild" {
			ltd = &pod.Containers[i]
		} else {
			app = &pod.Containers[i]
		}
	}
	if app == nil || ltd == nil {
		t.Fatal("want an app container and a logtaild one")
	}
	mountOf := func(c *k8sContainer) (string, bool) {
		for _, m := range c.VolumeMounts {
			if m.Name == shared {
				return m.MountPath, m.ReadOnly
			}
		}
		t.Fatalf("%s does not mount %s", c.Name, shared)
		return "", false
	}
	if _, ro := mountOf(app); ro {
		t.Error("the app cannot write to a read-only log volume")
	}
	path, ro := mountOf(ltd)
	if !ro {
		t.Error("logtaild must mount the logs read-only")
	}
	env := map[string]string{}
	for _, e := range ltd.Env {
		env[e.Name] = e.Value
	}
	if !slices.Contains(strings.Split(env["LOGTAILD_ROOT"], ":"), path) {
		t.Errorf("LOGTAILD_ROOT=%q does not serve the mount %s", env["LOGTAILD_ROOT"], path)
	}
	if env["LOGTAILD_ADDR"] != ":8080" {
		t.Errorf("LOGTAILD_ADDR=%q, want :8080", env["LOGTAILD_ADDR"])
	}
	// clients in the cluster reach it by the Service's name: the Host check
	// must let that name in
	svc := objs["Service"].Metadata.Name
	hosts, err := newHostPolicy(strings.Split(env["LOGTAILD_ALLOW_HOST"], ","), env["LOGTAILD_ADDR"])
	if err != nil {
		t.Fatalf("LOGTAILD_ALLOW_HOST: %v", err)
	}
	for _, h := range []string{svc + ":8080", svc + ".default.svc:8080", svc + ".default.svc.cluster.local:8080"} {
		if !hosts.allow(h) {
			t.Errorf("LOGTAILD_ALLOW_HOST=%q refuses Host %s", env["LOGTAILD_ALLOW_HOST"], h)
		}
	}
	for name, p := range map[string]*k8sProbe{"liveness": ltd.LivenessProbe, "readiness": ltd.ReadinessProbe} {
		if p == nil || p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s probe is not GET /healthz: %+v", name, p)
		}
	}
	sc := ltd.SecurityContext
	if !(sc.RunAsNonRoot || pod.SecurityContext.RunAsNonRoot) || !sc.ReadOnlyRootFilesystem || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("logtaild's securityContext: %+v", sc)
	}
	if ltd.Resources.Limits["memory"] == "" || ltd.Resources.Requests["cpu"] == "" {
		t.Errorf("logtaild's resources: %+v", ltd.Resources)
	}
}

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for _, re := range []string{
		`(?m)^FROM golang:\S+ AS build$`,
		`CGO_ENABLED=0`,
		`-trimpath`,
		`-ldflags "-s -w -X main\.version=\$\{?VERSION\}?"`,
		`(?m)^FROM gcr\.io/distroless/static-debian12:nonroot$`,
		`(?m)^COPY --from=build `,
		`(?m)^HEALTHCHECK .*CMD \["/logtaild", "healthcheck"\]$`,
		`(?m)^ENTRYPOINT \["/logtaild"\]$`,
	} {
		if !regexp.MustCompile(re).MatchString(df) {
			t.Errorf("Dockerfile does not match %s", re)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile("../deploy/systemd/logtaild.service")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	for k, want := range map[string]string{
		"DynamicUser":             "yes",
		"ProtectSystem":           "strict",
		"ReadOnlyPaths":           "/var/log/app",
		"ProtectHome":             "yes",
		"NoNewPrivileges":         "yes",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter":        "@system-service",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"CapabilityBoundingSet":   "",
	} {
		if !slices.Contains(keys[k], want) {
			t.Errorf("%s=%q missing (have %q)", k, want, keys[k])
		}
	}
	if exec := keys["ExecStart"]; len(exec) != 1 || !strings.Contains(exec[0], "--root /var/log/app") {
		t.Errorf("ExecStart %q does not serve /var/log/app", exec)
	}
}
