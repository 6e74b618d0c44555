// Command quantum is Quantum Alpaca's single binary: an Alpaca-compatible
// paper broker, a multi-tenant trading engine and a concurrent
// order-placement stress test.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	_ "time/tzdata" // the NYSE calendar needs America/New_York on any machine
)

// Version is set at build time with -ldflags "-X main.Version=..."; when
// it is not, versionLine reads the module version and the commit from the
// build info the go command embeds.
var Version = ""

// versionLine says which build this is: the version, the commit (with
// "+dirty" when built from a modified work tree) and the Go toolchain.
func versionLine() string {
	v, commit, dirty, goVersion := Version, "", false, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	line := "quantum " + v
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if dirty {
			commit += "+dirty"
		}
		line += " (commit " + commit + ")"
	}
	if goVersion != "" {
		line += " " + goVersion
	}
	return line
}

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	ctx, stop := signalContext()
	defer stop()
	err := m.Run(ctx, os.Args[1:])
	var ue usageError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ue):
		fmt.Fprintln(m.Stderr, "quantum:", err)
		os.Exit(2)
	default:
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(m.Stderr, "quantum:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(m.Stderr, "quantum:", err)
		os.Exit(1)
	}
}

// signalContext cancels on the first SIGINT/SIGTERM so that commands shut
// down gracefully; a second signal kills the process at once, for when a
// graceful shutdown hangs.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-ch:
			cancel()
		case <-ctx.Done():
			return
		}
		<-ch
		fmt.Fprintln(os.Stderr, "quantum: second signal, exiting now")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// Main holds the process's streams and environment so that tests can run
// the real wiring in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

const usage = `quantum: a multi-tenant algorithmic trading engine for Alpaca.

Usage:
  quantum broker  [flags]   run the Alpaca-compatible paper broker
  quantum run     [flags]   run the multi-tenant trading engine (no flags: the demo)
  quantum stress  [flags]   concurrent order-placement stress test
  quantum version           print the version

Run "quantum COMMAND -h" for a command's flags.
`

// Run dispatches to a subcommand.
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "broker":
		return (&brokerCommand{m: m}).Run(ctx, args[1:])
	case "run":
		return (&runCommand{m: m}).Run(ctx, args[1:])
	case "stress":
		return (&stressCommand{m: m}).Run(ctx, args[1:])
	case "version", "-version", "--version":
		fmt.Fprintln(m.Stdout, versionLine())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	fmt.Fprint(m.Stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries a specific exit status, e.g. a stress run that found
// lost orders.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
