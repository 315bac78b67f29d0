# autoenc — autoencoders trained and scored inside PostgreSQL.
#
# Standard PGXS targets keep their meaning (all, install, installcheck,
# clean).  Extra targets:
#   make unit       C unit tests of the numerical core (no server)
#   make reference  the core checked against PyTorch on identical weights/data
#   make prove      the pgTAP suite in test/pgtap/ against a running server
#   make taptest    the Perl TAP tests in test/t/ (clusters of their own)
#   make test       everything, self-contained: installs Debian packages,
#                   builds, starts a throwaway cluster, runs all suites
#   make test-matrix  the unit, pg_regress, pgTAP, Perl TAP and scoring
#                   suites against PostgreSQL 17 and 18, each in a cached
#                   minimal root of the Debian release that packages it
#                   (needs root; scripts/matrix.sh)
#   make demo       the same set-up, then trains on a real data set and
#                   prints the anomalies it found
#   make bench      benchmarks (bench/), written to doc/performance.md
#   make plots      the same set-up, then redraws the tutorial's pictures
#                   (doc/img/*.svg) from the database with gnuplot
#   make valgrind   unit tests and the server (pg_regress) under memcheck
#   make sanitize   unit tests and the server (pg_regress, pgTAP, ae_import
#                   fuzzing) with AddressSanitizer and UBSan
#   make fuzz       libFuzzer on the model bundle reader and the ONNX reader,
#                   ae_import fuzzing
#   make dist       release tarball build/autoenc-<version>.tar.gz of HEAD
#   make deb        builds the Debian package from HEAD, installs it, runs
#                   pg_regress against it, then restores the previous state
#
# Variables: AE_WERROR=1 makes every warning an error (the test suites and
# CI=true set it; a plain build only warns), AE_CSTD the C dialect
# (-std=gnu99).

EXTENSION    = autoenc
EXTVERSION   = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" autoenc.control)

MODULE_big   = autoenc
CORE_SRCS    = $(sort $(wildcard src/core/*.c))
PG_SRCS      = $(sort $(wildcard src/*.c))
# The ONNX schema as Debian installs it (libonnx-dev), compiled into C by
# protoc-c at build time: nothing of it is kept in the repository.
ONNX_PROTO  ?= /usr/include/onnx/onnx.proto
ONNX_GEN     = build/onnx
ONNX_PB_C    = $(ONNX_GEN)/onnx.pb-c.c
ONNX_PB_H    = $(ONNX_GEN)/onnx.pb-c.h
OBJS         = $(PG_SRCS:.c=.o) $(CORE_SRCS:.c=.o) $(ONNX_PB_C:.c=.o)
DATA         = $(filter-out $(wildcard sql/*--*--*.sql),$(wildcard sql/autoenc--*.sql)) \
               $(wildcard sql/autoenc--*--*.sql)
# Each suite has a directory of its own: pg_regress in test/regress/
# (sql/, expected/), pgTAP in test/pgtap/, Perl TAP in test/t/; sql/ holds
# the extension's install and upgrade scripts only.
REGRESS      = $(sort $(patsubst test/regress/sql/%.sql,%,$(wildcard test/regress/sql/*.sql)))
REGRESS_OPTS = --inputdir=test/regress --load-extension=autoenc

# OpenBLAS's own cblas.h (it declares openblas_set_num_threads); without
# pkg-config the multiarch default <cblas.h> is OpenBLAS's on Debian too.
OPENBLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
PG_CPPFLAGS  = -Isrc/core -I$(ONNX_GEN) $(OPENBLAS_CFLAGS) -I$(shell $(PG_CONFIG) --includedir)
# The C dialect the code is written in; a compiler with another default
# still builds it.  Override with AE_CSTD= to use the compiler's own.
AE_CSTD     ?= -std=gnu99
# Our code is warning-free, and the test suites keep it so: AE_WERROR=1 (set
# by make test, and by CI=true) turns every warning into an error.  A plain
# build of a release with a newer compiler only warns.
AE_WERROR   ?= $(if $(filter true,$(CI)),1,0)
AE_WERROR_FLAG = $(if $(filter 1,$(AE_WERROR)),-Werror)
# Unused parameters are the fmgr calling convention.
PG_CFLAGS    = $(AE_CSTD) -Wall -Wextra $(AE_WERROR_FLAG) -Wno-unused-parameter \
               -Wno-missing-field-initializers -Wno-sign-compare \
               -Wno-declaration-after-statement
SHLIB_LINK   = -lopenblas -lprotobuf-c -lm -lpq
# What every program linking the core needs besides the core's objects.
CORE_LIBS    = -lopenblas -lprotobuf-c -lm

EXTRA_CLEAN  = build results regression.diffs regression.out

PG_CONFIG   ?= pg_config
# Targets that only run a script need no PostgreSQL yet: the script installs
# what is missing (pg_config included) and then calls make again.
AE_SCRIPT_GOALS = test demo bench plots valgrind sanitize fuzz deb
ifeq ($(MAKECMDGOALS),)
AE_NEED_PGXS = 1
else ifneq ($(filter-out $(AE_SCRIPT_GOALS),$(MAKECMDGOALS)),)
AE_NEED_PGXS = 1
endif
ifdef AE_NEED_PGXS
PGXS        := $(shell command -v $(PG_CONFIG) >/dev/null && $(PG_CONFIG) --pgxs)
ifeq ($(PGXS),)
$(error $(PG_CONFIG) not found: install postgresql-server-dev-15 (or run make demo or make test, which install it), or set PG_CONFIG)
endif
include $(PGXS)
endif

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h src/core/*.h) $(ONNX_PB_H)

$(ONNX_PB_H): $(ONNX_PROTO)
	@mkdir -p $(ONNX_GEN)
	protoc-c --c_out=$(ONNX_GEN) -I$(dir $(ONNX_PROTO)) $(ONNX_PROTO)
$(ONNX_PB_C): $(ONNX_PB_H)

# ---------------------------------------------------------------- unit tests
# The core is compiled once into build/core/*.o (its own flags: stricter
# warnings than the server build, no PostgreSQL headers) and linked into the
# unit tests, the reference driver and the benchmark.
UNIT_CC      ?= $(CC)
UNIT_CFLAGS  = $(AE_CSTD) -O2 -g -Wall -Wextra $(AE_WERROR_FLAG) -Wmissing-prototypes -Wpointer-arith \
               -Werror=vla -Wimplicit-fallthrough=3 -Isrc/core -I$(ONNX_GEN) -Itest/unit $(OPENBLAS_CFLAGS)
UNIT_TESTS   = $(patsubst test/unit/%.c,build/unit/%,$(sort $(wildcard test/unit/test_*.c)))
CORE_HDRS    = $(wildcard src/core/*.h) test/unit/unit.h $(ONNX_PB_H)
CORE_OBJS    = $(patsubst src/core/%.c,build/core/%.o,$(CORE_SRCS)) build/core/onnx.pb-c.o

build/core/%.o: src/core/%.c $(wildcard src/core/*.h) $(ONNX_PB_H)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -c -o $@ $<

build/core/onnx.pb-c.o: $(ONNX_PB_C) $(ONNX_PB_H)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -c -o $@ $<

build/unit/%: test/unit/%.c $(CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_OBJS) $(CORE_LIBS)

# The C sides of `make reference` and `make bench`, built like the unit tests.
build/reference/%: test/reference/%.c $(CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_OBJS) $(CORE_LIBS)

build/bench/%: bench/%.c $(CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_OBJS) $(CORE_LIBS)

.PHONY: unit reference prove test test-matrix demo bench

# One BLAS thread: the core promises bit-identical results per seed.
unit: $(UNIT_TESTS)
	OPENBLAS_NUM_THREADS=1 prove --exec '' $(UNIT_TESTS)

reference:
	bash test/reference/run.sh

prove:
	pg_prove --ext .sql test/pgtap/*.sql

.PHONY: taptest
taptest:
	bash scripts/taptest.sh $(TAP)

test:
	bash scripts/test.sh

# MATRIX="trixie sid" limits it to those releases (scripts/matrix.sh)
test-matrix:
	bash scripts/matrix.sh $(MATRIX)

demo:
	bash scripts/demo.sh

bench:
	bash bench/run.sh

.PHONY: plots
plots:
	bash scripts/plots.sh

# ------------------------------------------------ valgrind, sanitizers, fuzzing
# make valgrind   unit tests (leak check full) and the server running the
#                 pg_regress suite under memcheck (scripts/valgrind.sh)
# make sanitize   unit tests built with ASan+UBSan, then a throwaway cluster
#                 loading an ASan+UBSan build of the extension: pg_regress,
#                 pgTAP, mutated documents into ae_import (scripts/sanitize.sh)
# make fuzz       libFuzzer on the model bundle reader and the ONNX reader,
#                 mutated documents into ae_import on a throwaway cluster
#                 (test/fuzz/run.sh)
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_CORE_OBJS  = $(patsubst src/core/%.c,build/sanitize/core/%.o,$(CORE_SRCS)) build/sanitize/core/onnx.pb-c.o

build/sanitize/core/%.o: src/core/%.c $(wildcard src/core/*.h) $(ONNX_PB_H)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(SANITIZE_FLAGS) -c -o $@ $<

build/sanitize/core/onnx.pb-c.o: $(ONNX_PB_C) $(ONNX_PB_H)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(SANITIZE_FLAGS) -c -o $@ $<

build/sanitize/unit/%: test/unit/%.c $(SAN_CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) $(SANITIZE_FLAGS) -o $@ $< $(SAN_CORE_OBJS) $(CORE_LIBS)

# libFuzzer needs clang: the core is compiled again with its instrumentation.
FUZZ_CC      ?= clang
FUZZ_CFLAGS  = $(AE_CSTD) -g -O1 -Wall -Wextra $(AE_WERROR_FLAG) -Isrc/core -I$(ONNX_GEN) -Itest/unit $(OPENBLAS_CFLAGS) \
               -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CORE_OBJS = $(patsubst src/core/%.c,build/fuzz/core/%.o,$(CORE_SRCS)) build/fuzz/core/onnx.pb-c.o

build/fuzz/core/%.o: src/core/%.c $(wildcard src/core/*.h) $(ONNX_PB_H)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/core/onnx.pb-c.o: $(ONNX_PB_C) $(ONNX_PB_H)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

build/fuzz/%: test/fuzz/%.c $(FUZZ_CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_CORE_OBJS) $(CORE_LIBS)

# The seed corpus writer: an ordinary program.
build/fuzz-seeds/%: test/fuzz/%.c $(CORE_OBJS) $(CORE_HDRS)
	@mkdir -p $(@D)
	$(UNIT_CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_OBJS) $(CORE_LIBS)

.PHONY: valgrind sanitize fuzz
valgrind:
	bash scripts/valgrind.sh

sanitize:
	bash scripts/sanitize.sh

fuzz:
	bash test/fuzz/run.sh

# ------------------------------------------------------------------ release
# git archive of the committed tree; .gitattributes leaves out CI files.
.PHONY: dist deb
dist:
	bash scripts/deb-test.sh --versions
	@mkdir -p build
	git archive --format=tar.gz --prefix=$(EXTENSION)-$(EXTVERSION)/ \
	    -o build/$(EXTENSION)-$(EXTVERSION).tar.gz HEAD
	@git diff --quiet HEAD -- || echo "note: uncommitted changes are not in the tarball"
	@echo "build/$(EXTENSION)-$(EXTVERSION).tar.gz"

deb:
	bash scripts/deb-test.sh
