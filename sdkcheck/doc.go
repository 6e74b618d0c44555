// Package sdkcheck proves that official Alpaca SDKs in other languages work
// against the simulated broker unchanged. Its test runs js/check.mjs, which
// drives the Alpaca TypeScript SDK (@alpacahq/alpaca-trade-api, pinned in
// js/package-lock.json) through every call the broker serves; install it with
// `npm ci --prefix sdkcheck/js`.
package sdkcheck
