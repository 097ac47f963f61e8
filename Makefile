# Sluice: `make run` serves the embedded default policy, `make test` runs
# every test (installing its prerequisites first).
GO      ?= go
PLUGINS := $(filter-out internal,$(notdir $(wildcard plugins/*)))
WASM    := $(PLUGINS:%=bin/plugins/%.wasm)
GOFILES := $(shell find . -name '*.go' -not -path './bin/*' -not -path './var/*')

# Languages with an SDK (or, for WAT, none) and an example filter; see
# sdk/CONFORMANCE.md. Each example and probe directory has a build.sh that
# takes the output path.
LANGS   := go rust c assemblyscript wat

.PHONY: all build plugins run test deps fmt vet check-policies bench clean examples probes conformance sdk-tests bench-peers console-assets FORCE

all: build

build: bin/sluice plugins

bin/sluice: $(GOFILES) go.mod go.sum
	$(GO) build -o $@ ./gateway/cmd/sluice

plugins: $(WASM)

# Plugins are Go reactors: -buildmode=c-shared exports _initialize (see sdk/ABI.md §1).
bin/plugins/%.wasm: $(GOFILES) go.mod go.sum
	@mkdir -p bin/plugins
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $@ ./plugins/$*

examples: $(LANGS:%=bin/examples/%.wasm)

probes: $(LANGS:%=bin/conformance/%.wasm)

# The toolchains cache their own work; build.sh is cheap when nothing changed.
bin/examples/%.wasm: FORCE
	@mkdir -p bin/examples
	./examples/plugins/$*/build.sh $@

bin/conformance/%.wasm: FORCE
	@mkdir -p bin/conformance
	./sdk/$*/conformance/build.sh $@

# The same vectors through the real host against every language.
conformance: examples probes
	$(GO) test -count=1 ./gateway/conformance/

FORCE:

run: build var/dkim/dev.pem
	@mkdir -p var
	./bin/sluice serve --policy policies/default.hcl

# The development DKIM key of policies/default.hcl, made once.
var/dkim/dev.pem: | bin/sluice
	./bin/sluice dkim-keygen --if-missing --algorithm ed25519 --domain sluice.localhost --selector dev --out $@

deps:
	./.ci/install-deps

# Native unit tests of each SDK's mock host and of the examples built on it.
sdk-tests:
	./sdk/c/test.sh >/dev/null
	./sdk/rust/test.sh
	cd sdk/assemblyscript && npm test --silent

test: deps build examples probes vet check-policies sdk-tests conformance
	@test -z "$$(gofmt -l gateway sdk plugins examples 2>/dev/null)" || { gofmt -l gateway sdk plugins; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) test -race -count=1 -timeout 15m ./...

check-policies: build var/dkim/dev.pem
	@for f in policies/*.hcl; do ./bin/sluice check --log-level warn $$f || exit 1; done

fmt:
	gofmt -w gateway sdk plugins

vet:
	$(GO) vet ./...

# Benchmarks are measurements, never pass/fail: hook-call cost (Go) and
# end-to-end throughput against smtp-sink alone (bench/bench.sh).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./gateway/...
	./bench/bench.sh

# Sluice beside smtp-sink, Postfix's before-queue proxy, a naive go-smtp
# pass-through and tuned Haraka (npm, installed under var/bench-peers), then
# every target of README "Performance" with its figure and ok/no: the
# ratios, added latency, a warm hook call, RSS with 1,000 idle sessions
# (bench/peers.sh; knobs there).
bench-peers: deps build
	./bench/peers.sh

# The console's vendored chart library (uPlot), rebuilt from
# gateway/console/web/package-lock.json with npm ci; the result is committed,
# so `go build` needs no npm.
console-assets:
	./gateway/console/web/build.sh

clean:
	rm -rf bin
