# daemon/engine.mk
