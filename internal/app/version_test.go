package app

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.25.1", Main: debug.Module{Path: "github.com/godwit/godwit", Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-03T06:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	require.Equal(t, "godwit (devel) 0123456789ab 2026-12-03T06:00:00Z modified go1.25.1", versionLine(bi, true))

	bi.Settings[2].Value = "false"
	bi.Main.Version = "v1.2.3"
	require.Equal(t, "godwit v1.2.3 0123456789ab 2026-12-03T06:00:00Z go1.25.1", versionLine(bi, true), "a tagged go install")

	require.Equal(t, "godwit v1.2.3 go1.25.1", versionLine(&debug.BuildInfo{GoVersion: "go1.25.1",
		Main: debug.Module{Version: "v1.2.3"}}, true), "no VCS information (-buildvcs=false)")
	require.Equal(t, "godwit (unknown)", versionLine(nil, false), "no build information")

	Version = "v9.9.9"
	defer func() { Version = "" }()
	require.Equal(t, "godwit v9.9.9 go1.25.1", versionLine(&debug.BuildInfo{GoVersion: "go1.25.1",
		Main: debug.Module{Version: "(devel)"}}, true), "a release named at link time")
}
