# systemd/local.mk
