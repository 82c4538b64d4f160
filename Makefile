# netlab: the everyday commands. Extra program arguments go in ARGS, e.g.
#   make run-server ARGS="--transform upper"
#   make run-client ARGS="hello world"

CARGO ?= cargo
ARGS ?=

.PHONY: build test lint run-server run-client clean

build:
	$(CARGO) build --release --locked

test:
	$(CARGO) test --locked

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

run-server:
	$(CARGO) run --release --locked --bin net_server -- $(ARGS)

run-client:
	$(CARGO) run --release --locked --bin net_client -- $(ARGS)

clean:
	$(CARGO) clean
