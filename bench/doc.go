// Package bench holds Loomcast's benchmarks on the embedded stack: the
// Temporal server in process on SQLite, the app database on SQLite, the
// worker, and the API over real HTTP on loopback. Run them with make bench.
package bench
