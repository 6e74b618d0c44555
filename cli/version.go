package cli

import (
	"runtime/debug"
	"strings"
)

// Version is set at build time with
// -ldflags "-X github.com/quantum-alpaca/quantum/cli.Version=..."; when
// it is not, versionLine reads the module version from the build info the
// go command embeds.
var Version = ""

// versionLine says which build this is, for `quantum version`.
func versionLine() string {
	bi, _ := debug.ReadBuildInfo() // nil when the binary has none
	return formatVersion(Version, bi)
}

// formatVersion says which build bi is: its version, the commit it was
// built from (with the commit's time, and "+dirty" when the work tree had
// changes) and the Go toolchain. ldflagsVersion, when set, is the version:
// whoever set it at build time meant it. Otherwise the module version is
// (as `go install module@v1.2.3` records it); a build from a work tree
// says "devel" and is told apart by its commit. bi may be nil.
func formatVersion(ldflagsVersion string, bi *debug.BuildInfo) string {
	v := ldflagsVersion
	var revision, at, goVersion string
	var dirty bool
	if bi != nil {
		goVersion = bi.GoVersion
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	var b strings.Builder
	b.WriteString("quantum " + v)
	if revision != "" {
		if len(revision) > 12 {
			revision = revision[:12]
		}
		if dirty {
			revision += "+dirty"
		}
		b.WriteString(" (commit " + revision)
		if at != "" {
			b.WriteString(", " + at)
		}
		b.WriteString(")")
	}
	if goVersion != "" {
		b.WriteString(" " + goVersion)
	}
	return b.String()
}
