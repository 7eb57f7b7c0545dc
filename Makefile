# Loomcast. `make run` starts the whole system; `make test` runs every test.
export GOTOOLCHAIN := local
GO ?= go
# PostgreSQL admin URL for the PostgreSQL-backed tests (each test creates
# and drops its own database).
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: run build test test-race test-postgres walkthrough lint bench clean

## run: the whole system in one process (embedded Temporal, SQLite, local files, sandboxes)
run:
	$(GO) run ./cmd/loomcast dev

## build: the loomcast binary in bin/
build:
	$(GO) build -o bin/loomcast ./cmd/loomcast

## test: every test; the store and API tests also run on PostgreSQL when
## LOOMCAST_TEST_POSTGRES_URL is set (CI sets it, see .ci/run)
test:
	$(GO) test -count=1 -timeout 20m ./...

## test-race: the race detector on the packages whose tests do not embed the
## Temporal server (those take minutes to link, and longer with -race); the
## list comes from each test binary's dependencies
RACE_PKGS = $(shell $(GO) list -test -f '{{if eq .Name "main"}}{{.ImportPath}} {{join .Deps " "}}{{end}}' ./... | grep -v ' go.temporal.io/server/' | sed -n 's/\.test .*//p')
test-race:
	$(GO) test -race -count=1 -timeout 20m $(RACE_PKGS)

## test-postgres: the same, with PostgreSQL at PG_URL
test-postgres:
	LOOMCAST_TEST_POSTGRES_URL='$(PG_URL)' $(GO) test -count=1 -timeout 20m ./...

## walkthrough: the README's "Walkthrough with curl", run as printed against a
## fresh loomcast dev on free ports (needs curl and jq); fails on any error
walkthrough:
	$(GO) run ./internal/walkthrough

## lint: formatting, vet, staticcheck and Temporal's workflow determinism check
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) tool workflowcheck ./workflows/...

## bench: benchmarks on the embedded stack, printing throughput and latency
bench:
	$(GO) test -run '^$$' -bench 'Login|GetMe' -benchtime 3s ./bench/...
	$(GO) test -run '^$$' -bench 'PublishLateness|WebhookIngest' -benchtime 1x -timeout 30m ./bench/...
	LOOMCAST_TEST_POSTGRES_URL='$(PG_URL)' $(GO) test -run '^$$' -bench 'RetentionExpiry' -benchtime 1x -timeout 30m ./bench/...

clean:
	rm -rf bin data
