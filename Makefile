# Torus: the two commands of the README, and the build variants behind them.
#   make run        install what is missing, build, serve the demo app on http://127.0.0.1:8080
#   make test       install what is missing, build, run every test
#   make build      leaves the server at build/torus
#   make test-asan  the tests under AddressSanitizer + UBSan (build-asan/)
#   make test-tsan  the tests under ThreadSanitizer (build-tsan/)
#   make fuzz       the libFuzzer request-parser target with clang (build-fuzz/)
#   make bench      bench/run --quick (see bench/README.md)

# PHP=auto|zts|system: the PHP Torus links (tools/choose-php).
#   zts     the thread-safe PHP tools/build-php compiles once (about 20 minutes) and
#           caches under /var/cache/torus: several executors per core
#   system  Debian's own NTS libphp8.2-embed and its packaged extensions (a minute
#           or two of apt-get): one executor per core
#   auto    zts when it is cached, else system (the default)
# make test tests both: the whole suite against zts, the end-to-end suite against system.
# PHP_VERSION=8.2|8.3|8.4: the PHP branch tools/build-php builds and Torus links
# (default 8.2 until Torus is tested against 8.4: see tools/build-php).
PHP ?= auto
ifdef PHP_VERSION
export PHP_VERSION
endif

JOBS ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure -j$(JOBS)
RUN_FLAGS ?=

.PHONY: all deps php build run run-laravel run-symfony test test-asan test-tsan fuzz fuzz-run bench format clean

all: build

# What building needs; the test targets add what testing needs.
deps:
	@tools/install-deps build

# The ZTS PHP, built once into the cache; make build picks it up afterwards.
php: deps
	@tools/build-php >/dev/null

# $(1): build folder, $(2): extra cmake flags, $(3): the PHP (auto, zts, system)
define configure
	@php_config=$$(tools/choose-php $(3) | tail -n 1) && \
	cmake -S . -B $(1) -DPHP_CONFIG="$$php_config" $(2) >/dev/null
	@cmake --build $(1) -j$(JOBS)
endef

build: deps
	$(call configure,build,,$(PHP))

run: build
	@echo "Serving examples/hello in worker mode on http://127.0.0.1:8080 (Ctrl-C stops)"
	build/torus --listen 127.0.0.1:8080 --root examples/hello --worker examples/hello/worker.php $(RUN_FLAGS)

# The real applications of examples/ (Debian's Laravel 8 and Symfony 5.4 packages), in worker mode.
run-laravel: build
	tools/setup-examples
	build/torus --listen 127.0.0.1:8080 --root examples/laravel/public \
	    --worker examples/laravel/public/worker.php $(RUN_FLAGS)

run-symfony: build
	tools/setup-examples
	build/torus --listen 127.0.0.1:8080 --root examples/symfony/public \
	    --worker examples/symfony/public/worker.php $(RUN_FLAGS)

# PHP=auto: every test against the ZTS PHP (build/), then the end-to-end
# tests against Debian's (build-system/). PHP=zts or PHP=system: every test
# against that one only, in build/.
test: deps
	@tools/install-deps test
ifeq ($(PHP),auto)
	$(call configure,build,,zts)
	cd build && ctest $(CTEST_FLAGS)
	$(call configure,build-system,,system)
	cd build-system && ctest $(CTEST_FLAGS) -L e2e
else
	$(call configure,build,,$(PHP))
	cd build && ctest $(CTEST_FLAGS)
endif
	$(MAKE) --no-print-directory fuzz-run

test-asan: deps
	@tools/install-deps test
	$(call configure,build-asan,-DTORUS_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug,zts)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 ctest $(CTEST_FLAGS)

test-tsan: deps
	@tools/install-deps test
	$(call configure,build-tsan,-DTORUS_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug,zts)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	    ctest $(CTEST_FLAGS)

# Only the fuzz target: it compiles the parser's sources itself and needs no libphp.
fuzz: deps
	@tools/install-deps test
	@php_config=$$(tools/choose-php auto 2>/dev/null | tail -n 1) && \
	cmake -S . -B build-fuzz -DPHP_CONFIG="$$php_config" -DCMAKE_C_COMPILER=clang -DTORUS_FUZZ=ON \
	      -DTORUS_SANITIZE=address >/dev/null
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_http fuzz_proxy

# A short fuzzing run, part of make test: 20 seconds on the request parser.
fuzz-run: fuzz
	@tests/fuzz/run-short build-fuzz

bench: build
	tools/install-deps bench
	bench/run --quick

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz
