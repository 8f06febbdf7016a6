# mfabridge — see README.md. Every target works on a fresh Debian machine as root
# (`make deps` installs the system packages the tests drive for real).

GO        ?= go
BIN       := bin/mfabridge
PKGS      := ./...
FUZZTIME  ?= 30s
DEBS      := pcscd libpcsclite1 vsmartcard-vpcd yubikey-manager awscli chromium
# No cgo anywhere: pcsc loads the PC/SC library at run time (purego).
export CGO_ENABLED ?= 0

.PHONY: all build test test-race deps bench-deps demo bench soak fuzz fuzz-short lint clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/mfabridge

# deps installs what the real-stack tests need: pcscd, its client library
# (loaded at run time, nothing to build against) and the vpcd virtual reader
# (a simulated YubiKey appears as a real card), Yubico's ykman (a real client
# of that card), the AWS CLI v2 (a real client of our STS emulator),
# Debian's chromium (a real browser for the console sign-in, run headless)
# and, for desktop_test.go, a D-Bus session (dbus-daemon, dbus-monitor) with
# gnome-keyring's Secret Service and a notification daemon on Xvfb.
deps:
	@missing=""; \
	command -v pcscd >/dev/null 2>&1 || missing="$$missing pcscd"; \
	{ ls /usr/lib/*/libpcsclite.so.1 || ls /usr/lib*/libpcsclite.so.1; } >/dev/null 2>&1 || missing="$$missing libpcsclite1"; \
	[ -f /etc/reader.conf.d/vpcd ] || missing="$$missing vsmartcard-vpcd"; \
	[ -x /usr/bin/ykman ] || missing="$$missing yubikey-manager"; \
	[ -x /usr/bin/aws ] || missing="$$missing awscli"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/dbus-daemon ] || missing="$$missing dbus-daemon"; \
	[ -x /usr/bin/dbus-monitor ] || missing="$$missing dbus-bin"; \
	[ -x /usr/bin/gnome-keyring-daemon ] || missing="$$missing gnome-keyring"; \
	[ -x /usr/bin/Xvfb ] || missing="$$missing xvfb"; \
	[ -x /usr/lib/notification-daemon/notification-daemon ] || missing="$$missing notification-daemon"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "deps: all present"; fi

test: deps build
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 10m $(PKGS)
	$(MAKE) --no-print-directory test-race

# test-race runs the packages with concurrency (card and bridge locks, the
# provider's cross-process cache and locks, the STS emulator, the pcscd
# session code) a second time under the race detector. A second pass on
# these alone is cheaper than the whole suite under -race, whose CLI
# scripts would start hundreds of race-instrumented processes. The race
# detector needs cgo (a C compiler); the binaries under test do not.
RACE_PKGS := ./oath ./device ./simulator/... ./sts/... ./pcsc
test-race:
	@if ! command -v gcc >/dev/null 2>&1; then \
		echo "test-race: installing gcc libc6-dev (the race detector needs cgo)"; \
		if [ "$$(id -u)" != 0 ]; then echo "test-race: need root to apt-get install gcc libc6-dev" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; \
	fi
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m $(RACE_PKGS)

demo: build
	./$(BIN) demo

# bench-deps: the measuring tools of make bench (GNU time for peak memory,
# hyperfine for process wall times).
bench-deps:
	@missing=""; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	[ -x /usr/bin/hyperfine ] || missing="$$missing hyperfine"; \
	if [ -n "$$missing" ]; then \
		echo "bench-deps: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "bench-deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "bench-deps: all present"; fi

# bench runs the comparisons (cached credential-process vs cat, a code vs
# ykman, a 64-process cold start, touches over a day vs the AWS CLI)
# BENCHCOUNT times and prints one table, also written to bench/latest.md.
BENCHCOUNT ?= 5
bench: deps bench-deps build
	$(GO) run ./bench/report -count $(BENCHCOUNT) -o bench/latest.md

# soak: the fault and load suite for SOAKTIME (a short version of it runs in
# make test). The pcscd part (card pulled, pcscd restarted) runs after it.
SOAKTIME ?= 3m
soak: deps build
	$(GO) test -count=1 -timeout 30m -run '^TestSoak' -v ./bench -soak $(SOAKTIME)
	$(GO) test -count=1 -timeout 30m -run '^TestStackSoak' -v ./pcsc -soak $(SOAKTIME)

# fuzz runs every fuzz target (each package's `go test -list '^Fuzz'`) for
# FUZZTIME each (default 30s), seed corpora first; it stops at the first
# failure, which leaves the crashing input in the package's testdata/fuzz.
# See .ci/fuzz for how a duration budget's shutdown race is told apart.
fuzz:
	GO=$(GO) ./.ci/fuzz $(FUZZTIME)

# fuzz-short is the CI run (.ci/run): every target for an execution count, not
# a duration, so a loaded machine makes it slower, never red (golang/go#75804).
fuzz-short:
	GO=$(GO) ./.ci/fuzz $(FUZZTIME_SHORT)

FUZZTIME_SHORT ?= 40000x

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
