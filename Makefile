# mfabridge — see README.md. Every target works on a fresh Debian machine as root
# (`make deps` installs the system packages the tests drive for real).

GO        ?= go
BIN       := bin/mfabridge
PKGS      := ./...
FUZZTIME  ?= 30s
DEBS      := pcscd libpcsclite-dev vsmartcard-vpcd yubikey-manager awscli
export CGO_ENABLED ?= 1

.PHONY: all build test test-nocgo deps demo bench fuzz fuzz-short lint clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/mfabridge

# deps installs what the real-stack tests need: pcscd and the vpcd virtual
# reader (a simulated YubiKey appears as a real card), Yubico's ykman (a real
# client of that card) and the AWS CLI v2 (a real client of our STS emulator).
deps:
	@missing=""; \
	command -v pcscd >/dev/null 2>&1 || missing="$$missing pcscd"; \
	[ -f /usr/include/PCSC/winscard.h ] || missing="$$missing libpcsclite-dev"; \
	[ -f /etc/reader.conf.d/vpcd ] || missing="$$missing vsmartcard-vpcd"; \
	[ -x /usr/bin/ykman ] || missing="$$missing yubikey-manager"; \
	[ -x /usr/bin/aws ] || missing="$$missing awscli"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: need root to apt-get install$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "deps: all present"; fi

test: deps build
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 10m $(PKGS)
	$(MAKE) --no-print-directory test-nocgo

# The pure-Go build must keep working: PC/SC then reports that it is not compiled in.
test-nocgo:
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 10m $(PKGS)

demo: build
	./$(BIN) demo

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# fuzz runs every fuzz target for FUZZTIME (default 30s each).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz: $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

fuzz-short:
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	CGO_ENABLED=0 $(GO) vet $(PKGS)

clean:
	rm -rf bin
