# ecsplane: build, test and run the control plane locally.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO      ?= go
PYTHON  ?= python3
BIN     ?= bin

# Every function in template.yaml (logical IDs ending in "Function"). SAM's
# makefile build method calls `make build-<LogicalId>` with ARTIFACTS_DIR set.
FUNCTIONS := $(shell sed -n 's/^  \([A-Za-z0-9][A-Za-z0-9]*Function\):$$/\1/p' template.yaml)

# build-NetworkFunction → ./functions/network
fn_dir = ./functions/$(shell echo '$(1)' | sed -e 's/Function$$//' -e 's/\([a-z0-9]\)\([A-Z]\)/\1-\2/g' | tr 'A-Z' 'a-z')

# Lambda runs the functions on arm64; LAMBDA_ARCH=amd64 builds them for an
# amd64 machine, to run under aws-lambda-rie here.
LAMBDA_ARCH  ?= arm64
LAMBDA_ENV   := GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0
LAMBDA_FLAGS := -trimpath -tags lambda.norpc -ldflags "-s -w"

.PHONY: all build sizes cli test test-go test-python lint cfn-lint local setup bench bench-service clean functions

all: build

$(addprefix build-,$(FUNCTIONS)): build-%:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)"; exit 2; }
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" $(call fn_dir,$*)

## functions: print the function logical IDs and their source directories
functions:
	@$(foreach f,$(FUNCTIONS),echo "$(f) $(call fn_dir,$(f))";)

## build: every function's bootstrap under bin/<LogicalId>/, and the CLI
build: cli
	@$(foreach f,$(FUNCTIONS),$(MAKE) --no-print-directory build-$(f) ARTIFACTS_DIR=$(BIN)/$(f);)

## sizes: build every function and print its bootstrap's size (budget: 10 MB)
sizes: build
	@$(foreach f,$(FUNCTIONS),printf '%-28s %10s bytes\n' $(f) $$(stat -c %s $(BIN)/$(f)/bootstrap);)

cli:
	$(GO) build -o $(BIN)/ecsplane ./cmd/ecsplane

## setup: install what the tests and the local environment need
setup:
	@./scripts/setup.sh

## test: everything: Go tests, lint, cfn-lint and the Python tests
test: setup lint test-go test-python

# The race detector needs cgo, whatever the environment says.
test-go:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 25m ./...
	@# The benchmarks assert what their runs reach; run each once.
	CGO_ENABLED=1 $(GO) test -race -count=1 -run '^$$' -bench . -benchtime=1x ./...

test-python:
	$(PYTHON) -m unittest discover -s service -t . -p 'test_*.py' -v

lint: cfn-lint
	@out="$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*'))"; \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

cfn-lint:
	cfn-lint template.yaml

## local: the whole lifecycle on the embedded AWS environment (scenarios/default.json); the report page goes to .local/report.html
local: setup
	$(GO) run ./cmd/ecsplane local

## bench: Go benchmarks (figures are reported, never asserted)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-service: setup
	./service/bench.sh

clean:
	rm -rf $(BIN) .aws-sam
