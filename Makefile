# mfabridge — see README.md. Every target works on a fresh Debian machine as root
# (`make deps` installs the system packages the tests drive for real).

GO        ?= go
BIN       := bin/mfabridge
PKGS      := ./...
FUZZTIME  ?= 30s
DEBS      := pcscd libpcsclite1 vsmartcard-vpcd yubikey-manager awscli chromium libpcsclite-dev gcc
# No cgo anywhere: pcsc loads the PC/SC library at run time (purego).
export CGO_ENABLED ?= 0

.PHONY: test-dist-stack demo-nocc all build test test-race deps bench-deps demo bench soak fuzz fuzz-short lint clean \
	dist dist-check vet-all deps-windows test-windows

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
# libpcsclite-dev and gcc are for one test program only: pcsc/piv_stack_test.go
# builds testdata/pivgo (github.com/go-piv/piv-go/v2, which needs cgo) as a
# third-party PIV client; mfabridge itself stays CGO_ENABLED=0.
deps:
	@missing=""; \
	command -v pcscd >/dev/null 2>&1 || missing="$$missing pcscd"; \
	{ ls /usr/lib/*/libpcsclite.so.1 || ls /usr/lib*/libpcsclite.so.1; } >/dev/null 2>&1 || missing="$$missing libpcsclite1"; \
	[ -f /etc/reader.conf.d/vpcd ] || missing="$$missing vsmartcard-vpcd"; \
	[ -x /usr/bin/ykman ] || missing="$$missing yubikey-manager"; \
	[ -x /usr/bin/aws ] || missing="$$missing awscli"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -f /usr/include/PCSC/winscard.h ] || missing="$$missing libpcsclite-dev"; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc"; \
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

# test-race runs every package's tests a second time under the race
# detector, except the CLI script tests (TestScripts, TestDesktopScripts):
# those start hundreds of mfabridge processes, each a single command that the
# first pass already ran, and race-instrumented they would add minutes; the
# in-process concurrency of cmd/mfabridge (serve, the terminal, the key
# stores) is raced by its other tests. The race detector needs cgo (a C
# compiler); the binaries under test do not.
RACE_SKIP := ^(TestScripts|TestDesktopScripts)$$
test-race:
	@if ! command -v gcc >/dev/null 2>&1; then \
		echo "test-race: installing gcc libc6-dev (the race detector needs cgo)"; \
		if [ "$$(id -u)" != 0 ]; then echo "test-race: need root to apt-get install gcc libc6-dev" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; \
	fi
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m -skip '$(RACE_SKIP)' ./...

demo: build
	./$(BIN) demo

# demo-nocc: what a fresh machine with Go and no C compiler does. CC is unset
# and PATH holds only the go command, so Go turns cgo off by its own rule
# (CC=false does not: Go then takes `false` for a compiler, and the standard
# library's net package needs one whenever cgo is on). The binary is built
# and `demo` runs end to end.
demo-nocc:
	@d=$$(mktemp -d); trap 'rm -rf "$$d"' EXIT; \
	ln -s "$$(readlink -f "$$(command -v $(GO))")" "$$d/go"; \
	env -u CC -u CGO_ENABLED PATH="$$d" go env CGO_ENABLED | grep -qx 0 || { echo "demo-nocc: cgo still on without a C compiler" >&2; exit 1; }; \
	env -u CC -u CGO_ENABLED PATH="$$d" go build -buildvcs=false -o "$$d/mfabridge" ./cmd/mfabridge; \
	go version -m "$$d/mfabridge" | grep -q 'CGO_ENABLED=0' || { echo "demo-nocc: the binary is not CGO_ENABLED=0" >&2; exit 1; }; \
	env PATH="$$d" "$$d/mfabridge" demo >"$$d/demo.log" 2>&1 || { cat "$$d/demo.log"; exit 1; }; \
	echo "demo-nocc: built without a C compiler (CGO_ENABLED=0) and ran the demo"

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
# With 45 targets, each run's fixed cost (build, workers, seed corpus) is about
# 3.6 s and 20000 executions about 1.2 s more (quiet 2-CPU machine, 220 s in
# all; 40000x took 276 s); `make fuzz` is the deep run.
fuzz-short:
	GO=$(GO) ./.ci/fuzz $(FUZZTIME_SHORT)

FUZZTIME_SHORT ?= 20000x

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# The release targets: every one is built CGO_ENABLED=0 from this machine.
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64

# dist: one binary per platform in dist/ (mfabridge_<version>_<os>_<arch>[.exe])
# and dist/SHA256SUMS; reproducible (see .ci/dist). The version is
# `git describe --tags --always --dirty` unless VERSION=... is given.
dist:
	GO=$(GO) TARGETS="$(PLATFORMS)" ./.ci/dist dist

# dist-check: make dist twice (here and in a fresh clone of HEAD), the sums
# must match; every binary CGO_ENABLED=0; the version is git's.
dist-check:
	GO=$(GO) ./.ci/dist-check

# test-dist-stack: the Linux release binary itself, as make dist built it,
# on the real pcscd + vpcd stack: a code from a simulated key equal to the
# RFC 6238 vector (TestStackCLISimServe), one card session per cold
# credential-process, and pcsc-lite's library hidden or wrong
# (TestStackLibraryMissingOrWrong).
test-dist-stack: dist
	@bin=$$(ls dist/mfabridge_*_linux_amd64 | head -n 1); [ -x "$$bin" ] || { echo "test-dist-stack: no linux/amd64 binary in dist/" >&2; exit 1; }; \
	echo "test-dist-stack: $$bin"; \
	log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	MFABRIDGE_TEST_CLI="$$PWD/$$bin" $(GO) test -count=1 -timeout 10m -run '^(TestStackCLISimServe|TestStackLibraryMissingOrWrong|TestStackOneSessionPerCode)$$' -v ./pcsc >"$$log" 2>&1; rc=$$?; \
	cat "$$log"; [ $$rc = 0 ] || exit 1; \
	for t in TestStackCLISimServe TestStackLibraryMissingOrWrong TestStackOneSessionPerCode; do \
		grep -q "^--- PASS: $$t " "$$log" || { echo "test-dist-stack: $$t did not run and pass" >&2; exit 1; }; \
	done

# purego's fake cgo runtime must be compiled as part of the standard library
# on FreeBSD (purego's README): for builds and for vet.
FAKECGO_STD := -gcflags=github.com/ebitengine/purego/internal/fakecgo=-std

# vet-all: go vet for each release platform (what vets for one OS's files
# may not compile on another), and the Wine acceptance's Windows helper.
# -trimpath as in .ci/dist: the packages vet compiles are then the ones
# dist links (one compile per platform in CI, not two).
vet-all:
	@failed=""; for t in $(PLATFORMS); do \
		echo "vet $$t"; \
		flags=""; [ "$${t%/*}" = freebsd ] && flags="$(FAKECGO_STD)"; \
		CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet -trimpath $$flags $(PKGS) || failed="$$failed $$t"; \
	done; \
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 $(GO) vet .ci/wine/aclcheck.go || failed="$$failed .ci/wine/aclcheck.go"; \
	$(GO) vet ./.ci/machocheck || failed="$$failed .ci/machocheck"; \
	if [ -n "$$failed" ]; then echo "vet-all: go vet failed for$$failed" >&2; exit 1; fi

# deps-windows installs what test-windows needs: Wine (Debian's wine64) to
# run Windows programs, and a MinGW C compiler for Wine's missing ProcessPrng
# stub (.ci/wine/prng.c). Nothing else is built with C.
deps-windows:
	@missing=""; \
	command -v wine >/dev/null 2>&1 && [ -x /usr/lib/wine/wine64 ] || missing="$$missing wine64 wine"; \
	command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing="$$missing gcc-mingw-w64-x86-64"; \
	if [ -n "$$missing" ]; then \
		echo "deps-windows: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps-windows: need root to apt-get install$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "deps-windows: all present"; fi

# test-windows runs the Windows test binaries of the packages that need no
# PC/SC reader under Wine, then the acceptance of the windows/amd64 release
# binary (sim, accounts, credential-process against the STS emulator running
# natively, the cache's DACL). See .ci/wine/test for what Wine lacks.
test-windows: deps-windows
	GO=$(GO) ./.ci/wine/test

clean:
	rm -rf bin dist
