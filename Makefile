# RetroVue Core: the few entry points. A new test never needs a new line here.
CARGO ?= cargo
DEMO  ?= fixtures/demo/lineup.toml

.PHONY: build test check fmt clippy bench sim run setup timelines

build:
	$(CARGO) build --workspace --all-targets

# Everything the tests need (ffmpeg and chromium from Debian's packages, Debian's nginx unpacked
# under target/tools) is installed by the project's own scripts; PostgreSQL is started by the
# test harness itself from the installed server binaries.
setup:
	bash scripts/ensure-ffmpeg.sh
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-nginx.sh >/dev/null

test: setup
	$(CARGO) test --workspace --all-targets --no-fail-fast

fmt:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: fmt clippy test

bench:
	$(CARGO) bench --workspace

sim:
	$(CARGO) run --release -- sim --lineup $(DEMO) --days 7

run:
	$(CARGO) run --release -- serve

# Accept a deliberate schedule change: rewrite the expected day timelines (EPG-002), then review
# the diff with git.
timelines:
	UPDATE_TIMELINES=1 $(CARGO) test --test timelines
