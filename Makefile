# ringlab: the two commands the README starts with, and a few helpers.
#   make demo   installs what is missing, builds, runs the main job on the twin
#   make test   installs what is missing, builds, runs every test
# Builds are release builds: the twin sits inside every test that measures physics, and the
# optimizer keeps overflow and precondition checks. The import check makes a module that
# imports one it does not declare a build error (docs/architecture.md).

SWIFT ?= swift
BUILD_FLAGS := -c release --explicit-target-dependency-import-check error
RINGLAB := .build/release/ringlab

.PHONY: all deps build demo test data-check bench fuzz fuzz-build fuzz-replay fuzz-net bench-iiod box-check fuzz-box bench-box install clean hil hil-short

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
	$(MAKE) data-check
	$(MAKE) fuzz-replay
	$(MAKE) box-check
	$(MAKE) hil-short

# The hardware path on a real Linux kernel (tools/hil, docs/linux-io.md): builds the kernel from
# Debian's linux-source-6.12 once (7 minutes on 2 idle cores; cached under ~/.cache/ringlab-hil),
# boots it in qemu with the release ringlab and runs the VM's tests (about a minute under TCG).
hil: build
	./tools/install-deps.sh hil
	python3 tools/hil/run.py

# make test's short version of make hil: what needs no kernel — the initramfs packs (every
# library ringlab loads is found), the VM's scripts parse under busybox sh — and the VM's tests
# themselves when this machine has built the kernel of this configuration before (a fresh CI
# machine would spend 7 or more minutes of its test budget on the kernel build).
hil-short: build
	@if ./tools/install-deps.sh hil-short; then \
		mkdir -p test-artifacts/hil && ./tools/hil/make-initramfs.sh test-artifacts/hil/initramfs.cpio && \
		busybox sh -n tools/hil/init && busybox sh -n tools/hil/vm-tests.sh && \
		python3 tools/hil/run.py --cached-only; \
	else echo "hil: cannot install the VM's packages here; make hil needs them"; exit 1; fi

# The committed MNIST-1D files are what the generator writes (the mnist1d package from PyPI,
# installed by the script if missing).
data-check:
	python3 tools/mnist1d_generate.py --check

# The lab box with real clients: its page in headless Chromium (a screenshot lands in
# test-artifacts/box-page.png) and the load test (20 SSE clients and wrk beside paced runs).
# Debian's python3, for Debian's selenium.
box-check: build
	/usr/bin/python3 tools/box_browser_test.py
	/usr/bin/python3 tools/box_load_test.py
	python3 tools/box_fuzz.py --examples 25

# The box's API fuzzed from its OpenAPI file by schemathesis (PyPI), EXAMPLES per operation.
EXAMPLES ?= 200
fuzz-box: build
	python3 tools/box_fuzz.py --examples $(EXAMPLES)

# How long listing the box's experiment index takes with 10,000 runs.
bench-box: build
	.build/release/ringlab-box bench-index --runs 10000

# Installs the executables into $(PREFIX)/bin and the data they read (board files, the twin,
# the committed calibration, datasets, the box's page) into $(PREFIX)/share/ringlab, where
# they look for them. The systemd units and udev rules are copied by hand (docs/box.md).
PREFIX ?= /usr/local
install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/ringlab
	install -m 755 .build/release/ringlab .build/release/ringlab-iiod .build/release/ringlab-box $(DESTDIR)$(PREFIX)/bin/
	cp -R hardware calibration data box $(DESTDIR)$(PREFIX)/share/ringlab/

# The libFuzzer target over an iiod session (Sources/iiod-fuzz), instrumented with
# -sanitize=fuzzer,address in its own build folder; lld links it (gold fails on it).
FUZZ_BINARY := .build-fuzz/release/iiod-fuzz
FUZZ_CORPUS := Tests/Fuzz/corpus
FUZZ_CRASHES := Tests/Fuzz/crashes
SECONDS ?= 600

fuzz-build: deps
	$(SWIFT) build -c release --product iiod-fuzz --scratch-path .build-fuzz \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld

# Replays the committed corpus (real client sessions) and every crash found, under ASan.
fuzz-replay: fuzz-build
	$(FUZZ_BINARY) $(FUZZ_CRASHES)/* $(FUZZ_CORPUS)/*
	@echo "fuzz-replay: $$(ls $(FUZZ_CRASHES) $(FUZZ_CORPUS) | grep -vc ':$$\|^$$') inputs replayed under ASan, no crash"

# Coverage-guided fuzzing for SECONDS (default 600). New inputs go to .fuzz-corpus/ (not
# committed); a crash is written to Tests/Fuzz/crashes/ (commit it with its fix: the
# replay keeps it fixed).
fuzz: fuzz-build
	mkdir -p .fuzz-corpus
	$(FUZZ_BINARY) -max_total_time=$(SECONDS) -max_len=16384 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_CRASHES)/ .fuzz-corpus $(FUZZ_CORPUS)

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
