# daemon/data.mk: the data plane — page sets, guest memory, stream frames,
# the nng peer link, page transfer, the bandwidth token bucket.
noinst_HEADERS += daemon/pageset.h daemon/memory.h daemon/frame.h \
	daemon/stream.h daemon/xfer.h daemon/tbucket.h
