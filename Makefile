# The two commands of the README's Quick start, and a few helpers.
#   make demo   install dependencies, build, run the main job
#   make test   install dependencies, build, run every test
PRESET ?= dev
BUILD  := build/$(PRESET)
JOBS   ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build demo test asan tsan fuzz docs format format-check clean

all: build

deps:
	./scripts/deps.sh

build: deps
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)/sluice

test: build
	ctest --preset $(PRESET) -j $(JOBS)

asan:
	$(MAKE) test PRESET=asan

tsan:
	$(MAKE) test PRESET=tsan

fuzz: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)
	./scripts/run-fuzzers.sh build/fuzz 5

docs: build
	$(BUILD)/sluice config docs > docs/configuration.md

format:
	clang-format-14 -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format-14 --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
