# test/faults.mk: faults as they happen: the network failing under a
# migration (two vmigd in network namespaces joined by a veth pair, tc
# netem/tbf or a BPF loss program and a delaying relay, a link cut;
# netns.py is the harness), 64 concurrent migrations soaked under an
# RPC flood (test_soak_scale.py, `make check-soak`), and `make
# fuzz-smoke` (every libFuzzer target a few seconds over its kept
# corpus).
FAULTS_PY_TESTS = test/integration/test_migration_netns.py \
	test/integration/test_soak_scale.py
TESTS += $(FAULTS_PY_TESTS)
# netloss.bpf.c is compiled by the test (clang -target bpf) when the
# kernel has no sch_netem; delayrelay.py is its latency.
EXTRA_DIST += $(FAULTS_PY_TESTS) test/integration/netns.py \
	test/integration/delayrelay.py test/integration/netloss.bpf.c

# make check-soak: test_soak_scale.py for VMIG_SOAK_SECONDS (default
# 300) of rounds of 64 concurrent migrations with a flooding client,
# RSS compared in every build (make check runs its short version). Run
# it in the sanitizer build: LeakSanitizer checks both daemons at exit.
#	VMIG_SOAK_SECONDS=900 make -C _build/asan check-soak
check-soak: all
	VMIG_SOAK_SECONDS=$${VMIG_SOAK_SECONDS:-300}; \
	export VMIG_SOAK_SECONDS; \
	$(MAKE) $(AM_MAKEFLAGS) check TESTS='test/integration/test_soak_scale.py'
.PHONY: check-soak

# make fuzz-smoke: each libFuzzer target for FUZZ_SMOKE_SECONDS over its
# kept seed corpus (test/fuzz/corpus/TARGET, read only: new inputs go to
# fuzz/smoke-TARGET); a crash, a leak or a timeout fails it and prints
# the end of its log. ./bootstrap check runs it after the sanitizer run.
FUZZ_SMOKE_SECONDS = 4
EXTRA_DIST += test/fuzz/corpus
fuzz-smoke: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    n=$${t##*/}; w=fuzz/smoke-$$n; \
	    rm -rf $$w; $(MKDIR_P) $$w; \
	    if ! $$t -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=10 \
	        -print_final_stats=1 -artifact_prefix=$$w/ $$w \
	        $(srcdir)/test/fuzz/corpus/$$n > $$w.log 2>&1; then \
	        tail -n 40 $$w.log; echo "fuzz-smoke: $$n FAILED ($$w.log)"; \
	        exit 1; \
	    fi; \
	    echo "fuzz-smoke: $$n: $$(sed -n 's/^stat::number_of_executed_units: *//p' $$w.log) runs, ok"; \
	done
.PHONY: fuzz-smoke
clean-local: clean-local-fuzz-smoke
clean-local-fuzz-smoke:
	-rm -rf fuzz/smoke-*
.PHONY: clean-local-fuzz-smoke
