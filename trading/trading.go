// Package trading is the domain vocabulary of Quantum Alpaca: tenants and
// their trading states and risk limits, order intents and the journal that
// records them, the Broker and market-data interfaces an account is reached
// through, the Strategy interface with the Env a strategy sees, and the
// errors all of them return.
//
// It imports nothing from this module, so that the engine, every adapter
// (alpacabroker, sqlite, postgres, metrics, web), every strategy and a
// backtester depend on it and not on each other; that is what lets the
// engine run against any journal or broker, and a strategy be written and
// tested without the engine. internal/archtest enforces the arrows.
package trading
