# test/faults.mk: faults as they happen: the network failing under a
# migration (two vmigd in network namespaces joined by a veth pair, tc
# netem/tbf, a link cut; netns.py is the harness), and `make fuzz-smoke`
# (every libFuzzer target a few seconds over its kept corpus).
FAULTS_PY_TESTS = test/integration/test_migration_netns.py
TESTS += $(FAULTS_PY_TESTS)
EXTRA_DIST += $(FAULTS_PY_TESTS) test/integration/netns.py
