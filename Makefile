# Front door for cc-proxy. Every target installs what is missing first
# (scripts/deps.sh is idempotent and quick when all is present).
BUILD      ?= build
TEST_BUILD ?= build-test
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
ARGS       ?=
PREFIX     ?= /usr/local
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
DESTDIR    ?=

.PHONY: all deps build install run test unit e2e soak bench bench-instr fuzz format clean deb

all: build

deps:
	@scripts/deps.sh --no-npm

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target ccproxy

# Installs into $(DESTDIR)$(PREFIX): bin/ccproxy, share/man/man1/ccproxy.1, the shell completions,
# share/doc/ccproxy/ (the docs, and examples/). Uses $(BUILD) as it is when it
# is already configured (so BUILD=build-test installs the sanitized build the
# tests use without reconfiguring it), else configures a Release build.
install:
	@scripts/deps.sh --no-npm
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target ccproxy ccproxy-man ccproxy-completions
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

run: build
	./$(BUILD)/ccproxy serve $(ARGS)

# Sanitized build (ASan + UBSan, warnings as errors), unit tests under ctest,
# then the end-to-end suite against that same sanitized binary.
test:
	@scripts/deps.sh
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCCP_SANITIZE=ON -DCCP_WERROR=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)
	CCP_SECRET_SCAN=1 CCPROXY_BIN=$(CURDIR)/$(TEST_BUILD)/ccproxy node --test --test-concurrency=1 tests/e2e/

unit:
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCCP_SANITIZE=ON -DCCP_WERROR=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

e2e:
	CCP_SECRET_SCAN=1 CCPROXY_BIN=$(CURDIR)/$(TEST_BUILD)/ccproxy node --test --test-concurrency=1 tests/e2e/

# The fault-injection soak, long (tests/e2e/soak.test.mjs; `make test` runs
# a short one). SOAK_REQUESTS, SOAK_CONCURRENCY and SOAK_SEED tune it.
soak: unit
	CCPROXY_BIN=$(CURDIR)/$(TEST_BUILD)/ccproxy SOAK_REQUESTS=$${SOAK_REQUESTS:-3000} \
		node --test --test-concurrency=1 tests/e2e/soak.test.mjs

bench:
	@scripts/deps.sh --bench
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target ccproxy ccp-bench-mock
	bench/run.sh

# Instructions per request under valgrind's callgrind (bench/instr.mjs): a
# repeatable measure where wall-clock runs are noisy. A RelWithDebInfo (-O2)
# build in $(INSTR_BUILD); INSTR_ARGS adds binaries to compare, e.g.
#   make bench-instr INSTR_ARGS="--bin base=../base/build-rel/ccproxy:plain"
INSTR_BUILD ?= build-rel
INSTR_ARGS  ?=
bench-instr:
	@scripts/deps.sh --no-npm
	@command -v valgrind >/dev/null || { echo "bench-instr needs valgrind (apt-get install valgrind)" >&2; exit 1; }
	@cmake -S . -B $(INSTR_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(INSTR_BUILD) -j $(JOBS) --target ccproxy ccp-bench-mock
	CCP_BENCH_MOCK=$(INSTR_BUILD)/ccp-bench-mock node bench/instr.mjs --bin current=$(INSTR_BUILD)/ccproxy $(INSTR_ARGS)

# libFuzzer targets (tests/fuzz/, clang): builds them all, then runs each
# for FUZZ_SECONDS (or only FUZZ_TARGETS, e.g. FUZZ_TARGETS="sse http").
fuzz:
	@scripts/deps.sh --clang
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCCP_FUZZ=ON -DCCP_WERROR=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target ccp-fuzz
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The Debian package (scripts/build-deb.sh: a hardened Release build, the
# man page, docs, examples, a sandboxed systemd unit, /etc/ccproxy/), then
# checked: lintian, and the program run from the package extracted into a
# temporary root (scripts/check-deb.sh). Output in build-deb/.
deb:
	@scripts/deps.sh --no-npm
	@deb=$$(scripts/build-deb.sh build-deb) && scripts/check-deb.sh "$$deb" && echo "$$deb"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD) build-deb
