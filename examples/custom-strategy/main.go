// Command custom-strategy is the quantum command with one more strategy,
// written outside the project's strategy tree: breakout, a Donchian
// channel breakout. It is what a program of yours looks like: register
// your strategies, and every command of quantum (run, broker, stress,
// and the strategy in `run -h`) is there. From the module's root:
//
//	go run ./examples/custom-strategy run --config examples/custom-strategy/config.yaml
package main

import (
	"os"

	"github.com/quantum-alpaca/quantum/cli"
)

func main() {
	app := cli.New() // the built-in strategies are registered
	app.Register(Spec())
	os.Exit(app.Main(os.Args[1:]))
}
