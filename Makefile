# SPDX-License-Identifier: Apache-2.0
# Thin wrapper over CMake. `make check` and `make demo` install what they need.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
FUZZ_SECONDS ?= 5
FUZZ_LONG_SECONDS ?= 300

.PHONY: all deps check check-normal check-asan check-fuzz fuzz demo bench soak clean

all:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

deps:
	sh scripts/install-deps

check: deps
	$(MAKE) check-normal check-asan check-fuzz

check-normal:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j $(JOBS)
	ctest --test-dir build --output-on-failure -j $(JOBS)

check-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DUPK_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	ctest --test-dir build-asan --output-on-failure -j $(JOBS)

build-fuzz/.built: FORCE
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DUPK_FUZZ=ON >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	touch $@

check-fuzz: build-fuzz/.built
	sh scripts/run-fuzzers build-fuzz $(FUZZ_SECONDS)

fuzz: deps build-fuzz/.built
	sh scripts/run-fuzzers build-fuzz $(FUZZ_LONG_SECONDS)

demo: deps all
	sh scripts/demo $(BUILD)

bench: deps all
	sh scripts/bench $(BUILD)

# The agent's crash-injection test with 2,000 SIGKILL/power-cut points (make check runs 200).
soak: deps all
	UPK_CRASH_POINTS=2000 ctest --test-dir $(BUILD) -R unit/test_agent_crash --output-on-failure --timeout 1800

clean:
	rm -rf build build-asan build-fuzz

.PHONY: FORCE
FORCE:
