// Command quantum is Quantum Alpaca's single binary: an Alpaca-compatible
// paper broker, a multi-tenant trading engine and a concurrent
// order-placement stress test, with the built-in strategies. The command
// itself is package cli, so that a program of your own can be the same
// command with strategies of its own (see examples/custom-strategy).
package main

import (
	"os"

	"github.com/quantum-alpaca/quantum/cli"
)

func main() { os.Exit(cli.New().Main(os.Args[1:])) }
