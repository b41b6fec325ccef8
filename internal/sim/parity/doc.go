// Package parity checks the simulator's API shape against moto: its tests run
// the same sequences of SDK calls against both and compare ID formats, states,
// required output fields and error codes. Every difference they tolerate is
// listed, with its reason, in the sim package's documentation and in the
// known table of parity_test.go; any other difference fails the suite.
package parity
