# ringlab: the two commands the README starts with, and a few helpers.
#   make demo   installs what is missing, builds, runs the main job on the twin
#   make test   installs what is missing, builds, runs every test
# Builds are release builds: the twin sits inside every test that measures physics, and the
# optimizer keeps overflow and precondition checks. The import check makes a module that
# imports one it does not declare a build error (docs/architecture.md).

SWIFT ?= swift
BUILD_FLAGS := -c release --explicit-target-dependency-import-check error
RINGLAB := .build/release/ringlab

.PHONY: all deps build demo test bench clean

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

clean:
	rm -rf .build
