# daemon/data.mk
