# Secure Login Services: build, run, test and benchmark.
# Every target installs the Debian packages it needs first (apt-get; sudo when not root).

SWIFT ?= swift
DEBIAN_PACKAGES := libzmq3-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler \
                   libsqlite3-dev python3-zmq python3-protobuf python3-yaml docker-compose tzdata \
                   libqrencode-dev libpng-dev zbar-tools libsodium-dev \
                   libssh-dev libgpgme-dev gnupg openssh-client openssh-server putty-tools
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN_DIR ?= .run
# Every identity of the development keyring: the stack's parts and the parties around them.
IDENTITIES := event-bus enrollment challenge-verification report-delivery crypto-rules \
              operations portal trading-gateway accounts venue-gateway sms-gateway mobile-gateway push-gateway \
              reporting mail-gateway

.PHONY: all deps build keys run test protos protos-check contracts-record compose-check bench fuzz clean

all: build

## deps: install the Debian packages that are missing
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## build: debug build of everything
build: deps
	$(SWIFT) build

## keys: create the development keyring in $(RUN_DIR)/keyring (missing keys only; existing ones are kept)
keys: deps
	$(SWIFT) build -c release --product slsctl
	"$$($(SWIFT) build -c release --show-bin-path)/slsctl" keys create --keyring $(RUN_DIR)/keyring $(IDENTITIES)

## run: build in release mode, create the development keyring on first start, and start the local
## stack (compose/docker-compose.yml) in the foreground with bus security on
run: deps
	$(SWIFT) build -c release
	"$$($(SWIFT) build -c release --show-bin-path)/slsctl" keys create --keyring $(RUN_DIR)/keyring $(IDENTITIES)
	/usr/bin/python3 Tools/run-stack.py compose/docker-compose.yml "$$($(SWIFT) build -c release --show-bin-path)" $(RUN_DIR)

## test: every test (unit, contract, end-to-end) and the compose file check
test: deps compose-check
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

## protos: regenerate the committed protoc-c and Swift code from protos/
protos: deps
	Tools/generate-protos.sh

## protos-check: fail when the committed generated code is stale
protos-check: deps
	Tools/generate-protos.sh --check

## contracts-record: write golden bytes and schema snapshot entries for new messages
contracts-record: deps
	SLS_RECORD_CONTRACTS=1 $(SWIFT) test --filter ContractTests

## compose-check: validate compose/docker-compose.yml (no Docker engine needed)
compose-check: deps
	docker-compose -f compose/docker-compose.yml config -q

## bench: release build, then the benchmarks (BENCH/RATIO lines)
bench: deps
	$(SWIFT) build -c release
	"$$($(SWIFT) build -c release --show-bin-path)/sls-bench"
	/usr/bin/python3 Tools/bench/sftp_bench.py "$$($(SWIFT) build -c release --show-bin-path)"

## fuzz: release build, then the structure-aware fuzz campaign against crypto-rules and the event bus
fuzz: deps
	$(SWIFT) build -c release
	/usr/bin/python3 Tools/fuzz/fuzz_campaign.py --bin-dir "$$($(SWIFT) build -c release --show-bin-path)"

clean:
	rm -rf .build $(RUN_DIR)
