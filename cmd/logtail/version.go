package main

import "runtime/debug"

// version is set at build time with -ldflags "-X main.version=v1.2.3", as
// for logtaild (the Dockerfile's VERSION).
var version = ""

// versionString is the version --version prints: main.version, else the
// module's version in the build info (go install …@v1.2.3), else
// "(devel)"; as logtaild says its own.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
