# nstack: a private TCP/IP stack for unmodified Linux programs (LD_PRELOAD).
#
#   make            build/libnstack.so and build/nstack
#   make check      install missing Debian packages, build, run every test
#                   (unit + packet-level, again under ASan/UBSan, then the netns lab)
#   make demo       bring up the lab and show unmodified programs on nstack
#   make install    PREFIX=/usr/local DESTDIR=...
#
# BUILD=dir keeps a separate object tree (parallel developers, sanitizers).

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= gcc

WARN := -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS += -D_GNU_SOURCE -Istack/include -Ipcap_io -Ipreload -Itest
OPT ?= -O2 -g
SAN ?=
override CFLAGS += $(OPT) $(SAN) -std=gnu11 -fPIC -fvisibility=hidden -pthread $(WARN)
LDLIBS_CORE := -lpcap -lbsd -lpthread
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

STACK_SRC := $(sort $(wildcard stack/*.c))
PCAP_SRC := $(sort $(wildcard pcap_io/*.c))
PRELOAD_SRC := $(sort $(filter-out preload/wrapper.c,$(wildcard preload/*.c)))
TEST_SRC := $(sort $(wildcard test/unit/*.c test/wire/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
CORE_OBJ := $(call obj,$(STACK_SRC) $(PCAP_SRC))
PRELOAD_OBJ := $(call obj,$(PRELOAD_SRC))
TEST_OBJ := $(call obj,$(TEST_SRC))
DEPS := $(CORE_OBJ:.o=.d) $(PRELOAD_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all check unit-test asan-test integration-test demo install clean format deps lab-up lab-down bench
.PHONY: conformance fuzz fuzz-check fuzz-build asan-lab tsan-test
all: $(BUILD)/libnstack.so $(BUILD)/nstack $(BUILD)/nstack-opener

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libnstack_core.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libnstack.so: $(CORE_OBJ) $(PRELOAD_OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-z,defs -Wl,-z,nodelete -o $@ $^ $(LDLIBS_CORE) -lcares -ldl

$(BUILD)/nstack: preload/wrapper.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DNSTACK_LIBDIR='"$(PREFIX)/lib"' -o $@ $<

# nstack-opener: opens the packet socket for programs without CAP_NET_RAW
# (pcap_io/opener.h). make install gives it cap_net_raw; its policy file is
# compiled in (OPENER_CONF), never taken from the caller.
OPENER_DIR ?= $(PREFIX)/lib/nstack
OPENER_CONF ?= /etc/nstack/opener.conf
OPENER_SRC := pcap_io/opener/nstack_opener.c pcap_io/opener/policy.c pcap_io/pcap_filter.c
OPENER_HDR := pcap_io/opener.h pcap_io/opener/policy.h pcap_io/pcap_filter.h
$(BUILD)/obj/preload/config.o: CPPFLAGS += -DNSTACK_OPENER_PATH='"$(OPENER_DIR)/nstack-opener"'

$(BUILD)/nstack-opener: $(OPENER_SRC) $(OPENER_HDR)
	$(CC) $(CPPFLAGS) -DOPENER_CONF='"$(OPENER_CONF)"' $(CFLAGS) -o $@ $(OPENER_SRC) -lpcap

# The lab's copy reads a policy the integration tests write into the build tree.
$(BUILD)/test/nstack-opener-lab: $(OPENER_SRC) $(OPENER_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DOPENER_CONF='"$(abspath $(BUILD))/test/opener-lab.conf"' $(CFLAGS) \
		-o $@ $(OPENER_SRC) -lpcap

# Lab tools: the impairing bridge used by the integration tests and benchmarks.
$(BUILD)/nstack-relay: test/tools/relay.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 $(WARN) -o $@ $<

$(BUILD)/nstack_tests: $(TEST_OBJ) $(BUILD)/libnstack_core.a $(BUILD)/obj/pcap_io/opener/policy.o
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/obj/pcap_io/opener/policy.o \
		$(BUILD)/libnstack_core.a $(LDLIBS_CORE) $$(pkg-config --libs check)

deps:
	@test/deps.sh

unit-test: $(BUILD)/nstack_tests
	$(BUILD)/nstack_tests

asan-test:
	$(MAKE) -j$(JOBS) BUILD=$(BUILD)-asan OPT="-O1 -g" SAN="$(SAN_FLAGS)" $(BUILD)-asan/nstack_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		NSTACK_TCP_BULK_MIB=$${NSTACK_TCP_BULK_MIB:-8} $(BUILD)-asan/nstack_tests

# The unit tests under ThreadSanitizer: the stack thread, direct receive
# and the process table are threads on one stack object (its lock, and the
# few fields read without it, atomically). A race fails the test it is in.
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
tsan-test:
	$(MAKE) -j$(JOBS) BUILD=$(BUILD)-tsan OPT="-O1 -g" SAN="$(TSAN_FLAGS)" $(BUILD)-tsan/nstack_tests
	TSAN_OPTIONS=halt_on_error=1:die_after_fork=0 NSTACK_TCP_BULK_MIB=$${NSTACK_TCP_BULK_MIB:-8} \
		$(BUILD)-tsan/nstack_tests

integration-test: all $(BUILD)/nstack-relay $(BUILD)/test/nstack-opener-lab
	test/integration/run.sh $(BUILD)

# make check runs these on the ASan/UBSan library (the whole lab takes too long).
ASAN_CHECK_CASES := mp_fork_child_closes_epoll_watched_listener matrix_redis_nstack_server \
	mp_nginx_master_2_workers mp_link_moves_when_driver_exits_loses_no_frame mp_link_move_loses_and_repeats_no_frame \
	mp_postgres_server_pgbench unprivileged_server_and_client_via_opener \
	linkfault_interface_deleted tcp_curl_100mib_download evlibs_libevent_tcp_server \
	mp_nginx_workers_receive_their_own_frames mp_fanout_driver_exits_loses_no_frame

# The lab's real programs on an ASan/UBSan libnstack.so (ASan's runtime
# preloaded first); ASAN_CASES='name ...' for a subset. See asan_lab.sh.
asan-lab:
	$(MAKE) -j$(JOBS) BUILD=$(BUILD)-asan OPT="-O1 -g" SAN="$(SAN_FLAGS)" $(BUILD)-asan/libnstack.so \
		$(BUILD)-asan/nstack $(BUILD)-asan/nstack-opener $(BUILD)-asan/test/nstack-opener-lab \
		$(BUILD)-asan/nstack-relay
	$(CC) -shared -fPIC -O1 $(WARN) -o $(BUILD)-asan/libasan_early.so test/tools/asan_early.c -ldl
	test/integration/asan_lab.sh $(BUILD)-asan $(ASAN_CASES)

# Builds (not the tests) use every core: the three builds were a minute of make check.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

check: deps
	$(MAKE) -j$(JOBS) all $(BUILD)/nstack_tests
	$(MAKE) unit-test
	$(MAKE) asan-test
	$(MAKE) tsan-test
	$(MAKE) integration-test
	$(MAKE) asan-lab ASAN_CASES="$(ASAN_CHECK_CASES)"
	$(MAKE) -j$(JOBS) fuzz-build
	$(MAKE) fuzz-check

demo: deps all
	test/demo.sh $(BUILD)

bench: deps all $(BUILD)/nstack-relay
	bench/run.sh $(BUILD)

# Linux's packetdrill TCP scripts in wire mode, on the kernel and on nstack
# (not part of check): PACKETDRILL=binary and/or PACKETDRILL_SRC=tree,
# CONF_SCRIPTS='gtests/net/tcp/mss/*' for a subset. See test/conformance/run.sh.
conformance: all
	test/conformance/run.sh $(BUILD) $(CONF_SCRIPTS)

# libFuzzer targets (test/fuzz/): the stack built again with clang into
# $(FUZZ_BUILD), ASan+UBSan, on the in-memory wire with a manual clock.
# fuzz: each target for FUZZ_SECONDS on its corpus; fuzz-check: 10 s each.
FUZZ_BUILD ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_frames fuzz_conversation fuzz_config
FUZZ_CFLAGS := -O1 -g -std=gnu11 -pthread -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(STACK_SRC) pcap_io/wire.c \
	test/fuzz/fuzz_common.c test/fuzz/fuzz_arena.c)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Itest/fuzz $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

# The timer wheel's slot scans are most of an execution's time and no input's business.
$(FUZZ_BUILD)/obj/stack/timer.o: FUZZ_CFLAGS += -fno-sanitize-coverage=trace-cmp -O2

$(FUZZ_BUILD)/fuzz_config: $(FUZZ_BUILD)/obj/preload/config.o
$(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/test/fuzz/%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Wl,--wrap=ns_arena_alloc -Wl,--wrap=ns_arena_free \
		-o $@ $^ -lbsd -lpthread

.PRECIOUS: $(FUZZ_BUILD)/obj/%.o
fuzz-build: $(addprefix $(FUZZ_BUILD)/,$(FUZZ_TARGETS))

fuzz: deps fuzz-build
	test/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-check: fuzz-build
	FUZZ_CHECK=1 test/fuzz/run.sh $(FUZZ_BUILD) 10 $(FUZZ_TARGETS)

lab-up:
	test/lab.sh up
lab-down:
	test/lab.sh down

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(BUILD)/libnstack.so $(DESTDIR)$(PREFIX)/lib/libnstack.so
	install -m 0755 $(BUILD)/nstack $(DESTDIR)$(PREFIX)/bin/nstack
	install -m 0644 man/nstack.1 $(DESTDIR)$(PREFIX)/share/man/man1/nstack.1
	install -m 0644 man/nstack.7 $(DESTDIR)$(PREFIX)/share/man/man7/nstack.7
	install -d $(DESTDIR)$(OPENER_DIR) $(DESTDIR)$(dir $(OPENER_CONF))
	install -m 0755 $(BUILD)/nstack-opener $(DESTDIR)$(OPENER_DIR)/nstack-opener
	setcap cap_net_raw+ep $(DESTDIR)$(OPENER_DIR)/nstack-opener || \
		echo "make install: cannot give nstack-opener cap_net_raw (run as root; setcap is in" \
		"libcap2-bin): only programs with CAP_NET_RAW can then use nstack" >&2
	test -e $(DESTDIR)$(OPENER_CONF) || install -m 0644 man/opener.conf $(DESTDIR)$(OPENER_CONF)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(FUZZ_BUILD)

-include $(DEPS)
-include $(wildcard $(FUZZ_BUILD)/obj/*/*.d $(FUZZ_BUILD)/obj/*/*/*.d)
