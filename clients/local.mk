# clients/local.mk
