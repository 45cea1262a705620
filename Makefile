# The newcomer's front door. Every target installs what it needs first.
BUILDDIR   ?= _build
DEV_DIR    := $(BUILDDIR)/dev
TEST_DIR   := $(BUILDDIR)/test
BENCH_DIR  := $(BUILDDIR)/bench
FUZZ_DIR   := $(BUILDDIR)/fuzz
FUZZ_SECONDS ?= 60
DEMO_DIR   := $(BUILDDIR)/demo-games
SEEDER_DIR := $(BUILDDIR)/demo-peer-games

# The test build is the strict one: warnings are errors and the suite runs
# under AddressSanitizer and UndefinedBehaviorSanitizer.
TEST_OPTS  := -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
SUDO       := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all deps build run test bench fuzz demo clean

all: build

deps:
	@tools/install-deps

$(DEV_DIR)/build.ninja:
	meson setup $(DEV_DIR) -Ddevelopment=true

$(TEST_DIR)/build.ninja:
	meson setup $(TEST_DIR) $(TEST_OPTS)

$(BENCH_DIR)/build.ninja:
	meson setup $(BENCH_DIR) --buildtype=release

# libFuzzer needs clang; the engine is instrumented for coverage.
$(FUZZ_DIR)/build.ninja:
	CC=clang meson setup $(FUZZ_DIR) -Dfuzzing=true -Dui=false -Db_sanitize=address,undefined -Db_lundef=false

build: deps $(DEV_DIR)/build.ninja
	meson compile -C $(DEV_DIR)

demo: build
	tools/make-demo-games $(DEMO_DIR) $(DEV_DIR)
	tools/make-demo-games --seeder $(SEEDER_DIR) $(DEV_DIR)

run: build demo
	tools/run-demo $(DEV_DIR) $(DEMO_DIR) $(SEEDER_DIR)

test: deps $(TEST_DIR)/build.ninja
	meson compile -C $(TEST_DIR)
	@# Discovery tests need a real avahi-daemon; this one only uses loopback.
	$(SUDO) tests/mdns-loopback up
	xvfb-run -a -s "-screen 0 1280x1024x24" meson test -C $(TEST_DIR) --print-errorlogs --num-processes 2 || true
	@tools/test-summary $(TEST_DIR)/meson-logs/testlog.json

bench: deps $(BENCH_DIR)/build.ninja
	meson compile -C $(BENCH_DIR)
	bench/run $(BENCH_DIR)

fuzz: deps $(FUZZ_DIR)/build.ninja
	meson compile -C $(FUZZ_DIR)
	tools/run-fuzz $(FUZZ_DIR) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILDDIR)
