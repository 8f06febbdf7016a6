// Package bench measures mfabridge against the alternatives (a plain file
// read, Yubico's ykman, the AWS CLI's own mfa_serial flow) and holds the
// fault and load suite. Everything lives in its tests:
//
//	go test -run '^$' -bench . ./bench     # the benchmarks (make bench)
//	go test -run TestSoak ./bench          # the short soak (part of make test)
//	go test -run TestSoak ./bench -soak 3m # the long soak (make soak)
//
// The ykman comparison and the card and pcscd faults need pcscd, which only
// package pcsc may start; they live in pcsc/bench_test.go and
// pcsc/soak_test.go. bench/report turns the benchmark output of both into
// one table (and bench/latest.md).
//
// Every process talks to an in-process STS emulator (simulator/stsemu) on
// loopback and to a simulated YubiKey (a sim: state file); nothing leaves
// the machine.
package bench
