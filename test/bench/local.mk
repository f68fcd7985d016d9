# test/bench/local.mk: the end-to-end benchmarks (two daemons, simulated
# PFs, real loopback streams) and the runner behind `./bootstrap bench`
# (test/bench/run.sh BUILDDIR: every benchmark, C and Python, one JSON).
# Never run by make check; the C benchmarks are built by `make bench`
# from their areas' fragments.
dist_noinst_SCRIPTS += test/bench/run.sh test/bench/throughput.py \
	test/bench/converge.py test/bench/scale.py
EXTRA_DIST += test/bench/benchlib.py
