# The newcomer's front door. Every target installs what it needs first.
BUILDDIR   ?= _build
DEV_DIR    := $(BUILDDIR)/dev
TEST_DIR   := $(BUILDDIR)/test
BENCH_DIR  := $(BUILDDIR)/bench
DEMO_DIR   := $(BUILDDIR)/demo-games
SEEDER_DIR := $(BUILDDIR)/demo-peer-games

# The test build is the strict one: warnings are errors and the suite runs
# under AddressSanitizer and UndefinedBehaviorSanitizer.
TEST_OPTS  := -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
SUDO       := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: all deps build run test bench demo clean

all: build

deps:
	@tools/install-deps

$(DEV_DIR)/build.ninja:
	meson setup $(DEV_DIR) -Ddevelopment=true

$(TEST_DIR)/build.ninja:
	meson setup $(TEST_DIR) $(TEST_OPTS)

$(BENCH_DIR)/build.ninja:
	meson setup $(BENCH_DIR) --buildtype=release

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

clean:
	rm -rf $(BUILDDIR)
