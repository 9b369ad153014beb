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

# Generates the demo shop, imports it and writes the data-quality report.
demo: build
	rm -rf $(DEMO_DIR)
	$(BUILD)/souk gen $(DEMO_DIR) --users 5000 --items 2000 --days 60 --seed 42
	$(BUILD)/souk quality $(DEMO_DIR) --html $(DEMO_DIR)/quality.html
	$(BUILD)/souk index $(DEMO_DIR)
	$(BUILD)/souk search $(DEMO_DIR) "running shoes" --k 5 --facets brand,price
	$(BUILD)/souk suggest $(DEMO_DIR) "wat" --k 3
	$(BUILD)/souk clean $(DEMO_DIR)
	$(BUILD)/souk train $(DEMO_DIR)
	$(BUILD)/souk recommend $(DEMO_DIR) U000042 --k 5
	$(BUILD)/souk recommend $(DEMO_DIR) --session I000007,I000031 --k 5
	$(BUILD)/souk eval $(DEMO_DIR) --all
	@echo
	@echo "demo shop in $(DEMO_DIR)/ (raw files and ground truth in $(DEMO_DIR)/generated/)"
	@echo "data-quality report: $(DEMO_DIR)/quality.html"
	@echo "recommender evaluation: $(DEMO_DIR)/reports/eval.html"
	@echo "try: $(BUILD)/souk search $(DEMO_DIR) \"trail runnign shoes\" --filter 'price:<100'"

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
