package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func runVersion(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		writeHelp(stdout, findCommand("version"))
		return exitOK
	}
	if len(args) > 0 {
		return fail(stderr, "version", usagef("version takes no arguments, got %q", args))
	}
	io.WriteString(stdout, versionText())
	return exitOK
}

// versionText reads the version, commit and Go version from the build
// information the Go toolchain stamps into every binary: the module's
// version (a tag, or a pseudo-version from the commit) and the VCS
// revision, when built from a checkout.
func versionText() string {
	version, commit, dirty := "(unknown)", "unknown", ""
	goVersion := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = " (with uncommitted changes)"
				}
			}
		}
	}
	return fmt.Sprintf("annotator %s\ncommit %s%s\nbuilt with %s for %s/%s\n",
		version, commit, dirty, goVersion, runtime.GOOS, runtime.GOARCH)
}
