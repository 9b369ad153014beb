# souk front door. `make demo` and `make test` are all a newcomer needs.
BUILD ?= build
ASAN_BUILD ?= build-asan
DEMO_DIR ?= demo-data
JOBS ?= $(shell nproc)

.PHONY: all deps build test demo asan bench format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The main job: builds (or reuses) the demo shop in ./demo-data — generated,
# cleaned, indexed, trained, evaluated — and serves it with the console on
# http://127.0.0.1:7700 (the URL with an admin key is printed). Ctrl-C stops.
demo: build
	$(BUILD)/souk demo $(DEMO_DIR)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSOUK_SANITIZE=ON -DSOUK_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# Side-by-side import benchmark against sqlite3's .import (10M events).
bench: build
	bench/import/run.sh

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
