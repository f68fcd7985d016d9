# daemon/policy.mk
