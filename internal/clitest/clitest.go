// Package clitest holds what the tests of the quantum command share,
// whether they run it in-process (package cli) or as a built binary
// (cmd/quantum): how to read what it prints.
package clitest

import "regexp"

// OpsAPIRE matches the line of quantum run's banner that says where the
// ops API listens; the submatch is its base URL.
var OpsAPIRE = regexp.MustCompile(`ops API:\s+(http://127\.0\.0\.1:\d+)`)
