# test/sim/local.mk
