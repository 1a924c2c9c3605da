//go:build race

package store

// raceDetector is true when the tests run under -race. The race detector
// makes modernc's SQLite (C translated to Go) some 30 times slower, so a
// test that sweeps thousands of reads on one goroutine, where the detector
// has nothing to find, sweeps fewer of them under it.
const raceDetector = true
