# ringlab: the two commands the README starts with, and a few helpers.
#   make demo   installs what is missing, builds, runs the main job on the twin
#   make test   installs what is missing, builds, runs every test
# Builds are release builds: the twin sits inside every test that measures physics, and the
# optimizer keeps overflow and precondition checks. The import check makes a module that
# imports one it does not declare a build error (docs/architecture.md).

SWIFT ?= swift
BUILD_FLAGS := -c release --explicit-target-dependency-import-check error
RINGLAB := .build/release/ringlab

.PHONY: all deps build demo test bench fuzz-net bench-iiod clean

all: build

deps:
	./tools/install-deps.sh

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# The demo needs only the ringlab executable (not ringlab-iiod and its SwiftNIO).
demo: deps
	$(SWIFT) build $(BUILD_FLAGS) --product ringlab
	$(RINGLAB) demo

test: deps
	$(SWIFT) build $(BUILD_FLAGS) --build-tests
	$(SWIFT) test -c release --skip-build

bench: build
	$(RINGLAB) bench twin

# A 500,000-frame protocol-aware fuzz of the iiod server over the network, lock-step then paced
# (the test suite runs 50,000 of each); fails if the server dies, stops answering iio_info, or its
# resident set passes 256 MB.
fuzz-net: build
	./tools/serve-and-run.sh "" python3 tools/fuzz-iiod.py --frames 500000 --seed 1
	./tools/serve-and-run.sh "--paced" python3 tools/fuzz-iiod.py --frames 500000 --seed 2

# Attribute-write latency on the paced server while iio_readdev streams 600,000-sample blocks.
bench-iiod: build
	./tools/serve-and-run.sh "--paced" python3 tools/iiod-latency.py --writes 200 --block 600000

clean:
	rm -rf .build
