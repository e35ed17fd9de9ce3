package app

import (
	"runtime/debug"
	"strings"
)

// Version is set at link time to name a release:
// -ldflags "-X github.com/godwit/godwit/internal/app.Version=v1.2.3".
// Unset, the version comes from the build info (versionLine).
var Version = ""

// versionLine describes this binary in one line, from what the Go
// toolchain recorded in it: the release (Version when set at link time,
// else the module's version: the tag for `go install
// github.com/godwit/godwit/cmd/godwit@v1.2.3`, a pseudo-version for a
// build in a checkout, "(devel)" when the build recorded no VCS
// information), then the commit it was built from, its time, and
// "modified" when the checkout had uncommitted changes, as in
//
//	godwit v0.0.0-20261203060000-0123456789ab+dirty 0123456789ab 2026-12-03T06:00:00Z modified go1.26.8
func versionLine(bi *debug.BuildInfo, ok bool) string {
	parts := []string{"godwit"}
	release := Version
	if release == "" && ok && bi.Main.Version != "" {
		release = bi.Main.Version
	}
	if release == "" {
		release = "(unknown)"
	}
	parts = append(parts, release)
	if ok {
		var rev, at string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			parts = append(parts, rev[:min(len(rev), 12)])
		}
		if at != "" {
			parts = append(parts, at)
		}
		if modified {
			parts = append(parts, "modified")
		}
		if bi.GoVersion != "" {
			parts = append(parts, bi.GoVersion)
		}
	}
	return strings.Join(parts, " ")
}
