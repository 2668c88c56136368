# otelcol-jobs: build, test and run the distribution.
GO        ?= go
TOOLS     := $(GO) tool -modfile=internal/tools/go.mod
BIN       := bin/otelcol-jobs
CONFIG    ?= config/sidekiq.yaml
BENCHTIME ?= 1s
DEMO_FLAGS ?=
SYSTEM    ?= sidekiq
export GORACE := atexit_sleep_ms=0

.PHONY: all build test unit demo run bench generate lint tools clean

all: lint build test

## build: build the otelcol-jobs distribution with ocb into bin/otelcol-jobs
build: $(BIN)

# The collector is rebuilt when the manifest, the module or a non-test Go file
# it can import changes (cmd/ is not imported by it). ocb writes the
# distribution's own module into _build/ and compiles it there.
$(BIN): builder-config.yaml go.mod go.sum $(shell find receiver processor internal -name '*.go' -not -name '*_test.go' 2>/dev/null)
	$(TOOLS) builder --config builder-config.yaml
	@mkdir -p bin
	cp _build/otelcol-jobs $(BIN)

## test: the whole suite (unit, integration against real redis-server and job libraries, the built distribution)
test: lint build
	OTELCOL_JOBS_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 ./...

## unit: the Go tests without building the distribution (its end-to-end test skips)
unit:
	$(GO) test -race ./...

## demo: the collector plus a simulated job system (SYSTEM=sidekiq unless set; `bin/jobsim demo -h` lists them);
## Ctrl-C stops both (DEMO_FLAGS="--prometheus 127.0.0.1:9889 --seed 2" to change ports or the workload)
# (jobsim is built, not `go run`: go run exits 1 whenever it is interrupted,
# which would hide the collector's exit code)
demo: build
	$(GO) build -o bin/jobsim ./cmd/jobsim
	bin/jobsim demo --system $(SYSTEM) --collector $(BIN) --config config/demo.yaml $(DEMO_FLAGS)

## run: the collector on your own config (make run CONFIG=path/to/config.yaml)
run: build
	$(BIN) --config $(CONFIG)

## bench: every benchmark (see docs/benchmarks.md for the numbers and how to read them)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

## generate: regenerate mdatagen code and docs from metadata.yaml files
generate:
	$(GO) generate ./...

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^_build/') 2>&1); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin _build
