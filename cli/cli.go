// Package cli is the quantum command as a library: its subcommands
// (broker, run, stress, backtest, data, tenants, init, version), its config file and
// the strategies a config may name. cmd/quantum is New().Main with the
// built-in strategies; a program of your own registers its strategies as
// well and is the same command with them:
//
//	func main() {
//		app := cli.New()
//		app.Register(mystrategy.Spec())
//		os.Exit(app.Main(os.Args[1:]))
//	}
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // the NYSE calendar needs America/New_York on any machine

	"github.com/quantum-alpaca/quantum/strategy"
	"github.com/quantum-alpaca/quantum/strategy/dca"
	"github.com/quantum-alpaca/quantum/strategy/macross"
	"github.com/quantum-alpaca/quantum/strategy/meanrev"
	"github.com/quantum-alpaca/quantum/strategy/rebalance"
)

// App is the quantum command: the strategies its configs may name, and
// the process's streams and environment, which tests replace to run the
// real wiring in-process.
type App struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads the environment; nil reads an empty one.
	Getenv func(string) string

	strategies strategy.Registry
	// demoData, when set, replaces DefaultDemoDataDir, which the demo
	// empties on every start: tests point it at a temporary directory.
	demoData string
}

// New returns the command on the process's streams and environment,
// with the built-in strategies registered.
func New() *App {
	a := &App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	a.Register(dca.Spec())
	a.Register(macross.Spec())
	a.Register(meanrev.Spec())
	a.Register(rebalance.Spec())
	return a
}

// Register makes a strategy available to configs by its name, and lists
// it in the usage of the commands that read a config. It panics when the
// Spec is invalid or its name is taken, as http.ServeMux.Handle does for
// a pattern: a program registers its strategies once, at start-up, where
// a mistake is the program's and must not wait for a config to name it.
func (a *App) Register(s strategy.Spec) {
	if err := a.strategies.Register(s); err != nil {
		panic("cli: " + err.Error())
	}
}

// Main runs the command line args (without the program name) as the
// process: the first SIGINT or SIGTERM shuts the command down gracefully,
// a second exits at once with status 130. It returns the exit status for
// os.Exit: 0, 2 for a mistake in the command line, 1 for any other
// failure (after printing it), or the status the command chose (stress
// exits 1 when it lost orders).
func (a *App) Main(args []string) int {
	ctx, stop := a.signalContext()
	defer stop()
	err := a.Run(ctx, args)
	var ue usageError
	var ee exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(a.Stderr, "quantum:", err)
		return 2
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintln(a.Stderr, "quantum:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(a.Stderr, "quantum:", err)
	return 1
}

// signalContext cancels on the first SIGINT/SIGTERM so that commands shut
// down gracefully; a second signal kills the process at once, for when a
// graceful shutdown hangs.
func (a *App) signalContext() (context.Context, func()) {
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
		fmt.Fprintln(a.Stderr, "quantum: second signal, exiting now")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

const usage = `quantum: a multi-tenant algorithmic trading engine for Alpaca.

Usage:
  quantum broker  [flags]   run the Alpaca-compatible paper broker
  quantum run     [flags]   run the multi-tenant trading engine (no flags: the demo)
  quantum stress  [flags]   concurrent order-placement stress test
  quantum backtest [flags]  run the config's strategies over history, in process
  quantum data    COMMAND   record historical bars: fetch from Alpaca, import CSV
  quantum tenants create    create Broker API customer accounts to run as tenants
  quantum init    [flags]   write a commented starter config (./quantum.yaml)
  quantum version           print the version and the commit it was built from

Run "quantum COMMAND -h" for a command's flags.
`

// Run runs the command line args (without the program name) until ctx
// ends or the command is done. Errors are returned, not printed: Main
// turns them into an exit status.
func (a *App) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(a.Stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "broker":
		return (&brokerCommand{app: a}).Run(ctx, args[1:])
	case "run":
		return (&runCommand{app: a}).Run(ctx, args[1:])
	case "stress":
		return (&stressCommand{app: a}).Run(ctx, args[1:])
	case "backtest":
		return (&backtestCommand{app: a}).Run(ctx, args[1:])
	case "data":
		return (&dataCommand{app: a}).Run(ctx, args[1:])
	case "init":
		return (&initCommand{app: a}).Run(ctx, args[1:])
	case "tenants":
		return (&tenantsCommand{app: a}).Run(ctx, args[1:])
	case "version", "-version", "--version":
		fmt.Fprintln(a.Stdout, versionLine())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(a.Stdout, usage)
		return nil
	}
	fmt.Fprint(a.Stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// getenv is a.Getenv, or an empty environment.
func (a *App) getenv(name string) string {
	if a.Getenv == nil {
		return ""
	}
	return a.Getenv(name)
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
