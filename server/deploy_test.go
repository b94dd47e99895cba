package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
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
		// a Deployment's: {matchLabels: {…}}; a Service's: the labels
		Selector  map[string]any `yaml:"selector"`
		ClusterIP string         `yaml:"clusterIP"`
		Ports     []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
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
	Name string `yaml:"name"`
	Env  []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
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
	var dep k8sObject
	var services []k8sObject
	var kinds []string
	for {
		var o k8sObject
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, o.Kind)
		switch o.Kind {
		case "Deployment":
			dep = o
		case "Service":
			services = append(services, o)
		}
	}
	if dep.Kind == "" || len(services) != 2 {
		t.Fatalf("want a Deployment and two Services (one headless), got %v", kinds)
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
	fromField := map[string]string{} // the downward API's
	for _, e := range ltd.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			fromField[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	// each logtaild tells its clients its pod's name
	if fromField["LOGTAILD_NAME"] != "metadata.name" {
		t.Errorf("LOGTAILD_NAME is not the pod's name from the downward API (valueFrom.fieldRef.fieldPath: metadata.name): %q", fromField["LOGTAILD_NAME"])
	}
	if !slices.Contains(strings.Split(env["LOGTAILD_ROOT"], ":"), path) {
		t.Errorf("LOGTAILD_ROOT=%q does not serve the mount %s", env["LOGTAILD_ROOT"], path)
	}
	if env["LOGTAILD_ADDR"] != ":8080" {
		t.Errorf("LOGTAILD_ADDR=%q, want :8080", env["LOGTAILD_ADDR"])
	}
	// the Services lead to logtaild's port, over the Deployment's pods; one
	// is headless, its DNS name every ready pod's address (and SRV records
	// for its named port), for a client that follows them all
	podPort := map[string]int{}
	for _, p := range ltd.Ports {
		podPort[p.Name] = p.ContainerPort
	}
	headless := 0
	for _, svc := range services {
		name := svc.Metadata.Name
		if svc.Spec.ClusterIP == "None" {
			headless++
		}
		if len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s selects no pods", name)
		}
		for k, v := range svc.Spec.Selector {
			if dep.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("Service %s selects %s=%v, which the pods are not labelled with (%v)", name, k, v, dep.Spec.Template.Metadata.Labels)
			}
		}
		if len(svc.Spec.Ports) != 1 {
			t.Fatalf("Service %s: want one port, logtaild's: %+v", name, svc.Spec.Ports)
		}
		port := svc.Spec.Ports[0]
		target := podPort[fmt.Sprint(port.TargetPort)]
		if n, ok := port.TargetPort.(int); ok {
			target = n
		}
		if target != 8080 || port.Name == "" {
			t.Errorf("Service %s: port %+v does not lead to logtaild's :8080 under a name (SRV records need it)", name, port)
		}
	}
	if headless != 1 {
		t.Errorf("%d headless Services (clusterIP: None), want 1", headless)
	}
	// clients in the cluster reach it by a Service's name: the Host check
	// must let those names in (the short one: the Service with an address)
	hosts, err := newHostPolicy(strings.Split(env["LOGTAILD_ALLOW_HOST"], ","), env["LOGTAILD_ADDR"])
	if err != nil {
		t.Fatalf("LOGTAILD_ALLOW_HOST: %v", err)
	}
	for _, svc := range services {
		names := []string{svc.Metadata.Name + ".default.svc:8080", svc.Metadata.Name + ".default.svc.cluster.local:8080"}
		if svc.Spec.ClusterIP != "None" {
			names = append(names, svc.Metadata.Name+":8080")
		}
		for _, h := range names {
			if !hosts.allow(h) {
				t.Errorf("LOGTAILD_ALLOW_HOST=%q refuses Host %s", env["LOGTAILD_ALLOW_HOST"], h)
			}
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
