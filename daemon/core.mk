# daemon/core.mk
