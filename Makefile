# nspawn: one static binary. `make demo` and `make test` are the two
# commands README.md promises; both install what they need.

SHELL    := /bin/bash
BIN      := bin/nspawn
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS  := -trimpath
LDFLAGS  := -s -w -X github.com/nspawn/nspawn/nspawn.Version=$(VERSION)
SOURCES  := $(shell find . -name '*.go' -not -path './tests/*') go.mod go.sum
# Debian packages the tests and benchmarks use: the attack program of the
# security tests is built static against libc6-dev; trees are built from
# busybox-static and debootstrap; systemd-nspawn and bwrap are compared with;
# qemu boots the pure cgroup v2 kernel of test-v2; zsh loads the zsh
# completion in its test.
DEB_DEPS := libc6-dev busybox-static debootstrap systemd-container bubblewrap hyperfine iproute2 file tmux qemu-system-x86 zsh

# make install: PREFIX and DESTDIR as usual; SYSTEMD_NSPAWN_DIR, when set,
# gets a systemd-nspawn symlink to the installed nspawn, for callers that
# run systemd-nspawn (README: "Installed as systemd-nspawn").
# SYSTEMD_UNIT_DIR gets nspawn@.service, its ExecStart the installed
# binary; the default, $(PREFIX)/lib/systemd/system, is on systemd's unit
# path for /usr and /usr/local. machines.target is systemd's own
# (systemd-container ships it): ours goes in only where none is installed.
PREFIX   ?= /usr/local
BINDIR   := $(PREFIX)/bin
MANDIR   := $(PREFIX)/share/man/man1
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SYSTEMD_NSPAWN_DIR ?=
# Shell completions (completions/, made by `make completions`): bash's
# where bash-completion loads them by command name; zsh's in the fpath
# directory Debian's zsh has for its prefix (vendor-completions for /usr,
# site-functions, zsh's own default, elsewhere). They serve the name
# nspawn only: systemd-nspawn's completion is systemd's.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/share/zsh/vendor-completions,$(PREFIX)/share/zsh/site-functions)

.PHONY: all build install completions deps trees demo test unit integration test-v2 bench clean

all: build

build: $(BIN)

$(BIN): $(SOURCES)
	CGO_ENABLED=0 go build $(GOFLAGS) -ldflags '$(LDFLAGS)' -o $@ .

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/nspawn
	install -D -m 0644 man/nspawn.1 $(DESTDIR)$(MANDIR)/nspawn.1
	install -D -m 0644 completions/nspawn.bash $(DESTDIR)$(BASHCOMPDIR)/nspawn
	install -D -m 0644 completions/_nspawn $(DESTDIR)$(ZSHCOMPDIR)/_nspawn
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	sed 's|@BINDIR@|$(BINDIR)|g' units/nspawn@.service > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/nspawn@.service
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/nspawn@.service
	@for d in $(SYSTEMD_UNIT_DIR) /etc/systemd/system /usr/lib/systemd/system /lib/systemd/system; do \
		[ -e $(DESTDIR)$$d/machines.target ] && exit 0; \
	done; \
	install -m 0644 units/machines.target $(DESTDIR)$(SYSTEMD_UNIT_DIR)/machines.target && \
	echo "$(DESTDIR)$(SYSTEMD_UNIT_DIR)/machines.target (the system has none)"
	@if [ -n "$(SYSTEMD_NSPAWN_DIR)" ]; then \
		install -d $(DESTDIR)$(SYSTEMD_NSPAWN_DIR) && \
		ln -sfn $(BINDIR)/nspawn $(DESTDIR)$(SYSTEMD_NSPAWN_DIR)/systemd-nspawn && \
		echo "$(DESTDIR)$(SYSTEMD_NSPAWN_DIR)/systemd-nspawn -> $(BINDIR)/nspawn"; \
	fi

# The shell completions are generated from nspawn's options; run after
# changing one (a unit test fails while they are stale).
completions:
	go generate ./internal/completiongen

# Installs only what is missing; apt-get update runs once if needed.
deps:
	@missing=$$(for p in $(DEB_DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q $$missing || { apt-get update -q && apt-get install -y -q $$missing; }; \
	fi
	go mod download

trees: deps
	tests/trees/build.sh busybox >/dev/null
	tests/trees/build.sh bookworm >/dev/null
	tests/trees/build.sh bookworm-systemd >/dev/null

demo: build deps
	@tree=$$(tests/trees/build.sh busybox) && \
	echo "+ $(BIN) -D $$tree /bin/sh -c 'hostname; ps; id'" && \
	$(BIN) -D $$tree /bin/sh -c 'hostname; ps; id'

unit:
	CGO_ENABLED=0 go vet ./...
	CGO_ENABLED=0 go test -count=1 $$(go list ./... | grep -v /tests)

integration: build trees
	NSPAWN_BIN=$(CURDIR)/$(BIN) CGO_ENABLED=0 go test -count=1 -timeout 30m ./tests/

# The container runtime on a pure cgroup v2 kernel, booted under qemu.
test-v2: build deps
	tests/v2/run.sh $(BIN)

test: unit integration test-v2

bench: build deps
	tests/bench.sh $(BIN)

clean:
	rm -rf bin
