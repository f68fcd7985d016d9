# test/local.mk
