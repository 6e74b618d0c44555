// Package trading is the domain vocabulary of Quantum Alpaca: tenants,
// order intents, the order journal and the errors they return.
//
// It imports nothing from this module so that every adapter (sqlite,
// postgres, engine, web, mocks) can depend on it without depending on each
// other; that is what lets the engine run against any journal or broker.
package trading
