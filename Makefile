# netlab: the everyday commands. Extra program arguments go in ARGS, e.g.
#   make run-server ARGS="--transform upper"
#   make run-client ARGS="hello world"

CARGO ?= cargo
ARGS ?=

.PHONY: build test stress-test points starter lint bench grade run-server run-client clean

build:
	$(CARGO) build --release --locked

test:
	$(CARGO) test --locked

# The suite N times in a row beside two CPU hogs; it must pass every time.
N ?= 20
stress-test:
	sh .ci/stress $(N)

# The handout tier, one line per requirement with its points, and the total.
points:
	$(CARGO) run --quiet --locked --example points

# The repository students start from: make starter DEST=../net-lab-starter
starter:
	sh starter/generate "$(DEST)"

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

# Scenario 3 opens 10,000 connections on each side: raise the open-file limit first.
# ARGS="--quick" for a run of under a minute. The programs are where cargo builds them
# (CARGO_TARGET_DIR, if set).
bench:
	$(CARGO) build --release --locked --bins
	ulimit -n "$$(ulimit -Hn)" 2>/dev/null; "$${CARGO_TARGET_DIR:-target}/release/net_bench" $(ARGS)

# Grade submissions: make grade DIR="submissions/*" (DIR=submissions works too;
# ARGS="--csv" for a gradebook, ARGS="--json" for every check).
grade:
	$(CARGO) run --release --locked --quiet --bin net_grade -- $(ARGS) $(DIR)

run-server:
	$(CARGO) run --release --locked --bin net_server -- $(ARGS)

run-client:
	$(CARGO) run --release --locked --bin net_client -- $(ARGS)

clean:
	$(CARGO) clean
