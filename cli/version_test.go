package cli

import (
	"runtime/debug"
	"testing"
)

// TestFormatVersion: a build says which commit it is, whatever version
// it can name; never just "dev".
func TestFormatVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "fa279bb0123456789abcdef0123456789abcdef0"},
		{Key: "vcs.time", Value: "2026-01-02T15:04:05Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append(vcs[:3:3], debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	for _, tc := range []struct {
		name    string
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"WorkTree", "", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"quantum devel (commit fa279bb01234, 2026-01-02T15:04:05Z) go1.27.3"},
		{"Dirty", "", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "(devel)"}, Settings: dirty},
			"quantum devel (commit fa279bb01234+dirty, 2026-01-02T15:04:05Z) go1.27.3"},
		{"PseudoVersion", "", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v0.0.0-20260102150405-fa279bb01234+dirty"}, Settings: dirty},
			"quantum v0.0.0-20260102150405-fa279bb01234+dirty (commit fa279bb01234+dirty, 2026-01-02T15:04:05Z) go1.27.3"},
		{"GoInstall", "", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "v1.4.0"}},
			"quantum v1.4.0 go1.27.3"},
		{"Ldflags", "v1.5.0-rc1", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"quantum v1.5.0-rc1 (commit fa279bb01234, 2026-01-02T15:04:05Z) go1.27.3"},
		{"LdflagsNoBuildInfo", "v1.5.0", nil, "quantum v1.5.0"},
		{"Nothing", "", nil, "quantum devel"},
		{"NoVCS", "", &debug.BuildInfo{GoVersion: "go1.27.3", Main: debug.Module{Version: "(devel)"}}, "quantum devel go1.27.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatVersion(tc.ldflags, tc.bi); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
