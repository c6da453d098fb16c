# Entry points. `make run` and `make test` install what is missing (Debian, apt-get as root),
# build, and run; see README.md.
#   release: gcc, Release          (the optimiser finds warnings a debug build does not)
#   asan:    clang, Debug, ASan + UBSan
#   fuzz:    clang, libFuzzer harnesses, each run for FUZZ_SECONDS
BUILD        ?= build
JOBS         ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 20
CTEST_FLAGS  ?= --output-on-failure --timeout 600 -j $(JOBS)

.PHONY: all deps release asan fuzz run test test-release test-asan test-fuzz bench bench-smoke format \
	clean

all: release

deps:
	@./scripts/deps.sh

$(BUILD)/release/CMakeCache.txt:
	CC=gcc cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release

$(BUILD)/asan/CMakeCache.txt:
	CC=clang cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DPC_SANITIZE=ON

$(BUILD)/fuzz/CMakeCache.txt:
	CC=clang cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPC_FUZZ=ON \
		-DPC_FUZZ_SECONDS=$(FUZZ_SECONDS)

release: deps $(BUILD)/release/CMakeCache.txt
	cmake --build $(BUILD)/release -j $(JOBS)

asan: deps $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)

fuzz: deps $(BUILD)/fuzz/CMakeCache.txt
	cmake -S . -B $(BUILD)/fuzz -DPC_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	cmake --build $(BUILD)/fuzz -j $(JOBS)

# The main job on the embedded default configuration.
run: release
	$(BUILD)/release/portcullis serve

test-release: release
	cd $(BUILD)/release && ctest $(CTEST_FLAGS)

test-asan: asan
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_FLAGS)

test-fuzz: fuzz
	cd $(BUILD)/fuzz && ctest $(CTEST_FLAGS) -L fuzz

test: test-release test-asan test-fuzz

# The side-by-side table (as root: installs the peers; see bench/README.md).
bench: release
	./bench/run.sh

# CI: every benchmark scenario briefly, portcullis and the direct path only (< 1 min once
# built); fails when a scenario does not complete or a denied request gets through.
bench-smoke: release
	./bench/run.sh --smoke

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)
