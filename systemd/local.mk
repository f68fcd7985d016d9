# systemd/local.mk: the unit (Type=notify, watchdog, hardening; runs as
# the user vmigd), a sysusers.d snippet that creates that user and group,
# a tmpfiles.d snippet for /run/vmigd, and the example configuration
# (installed as vmigd.conf.example so an installed vmigd.conf is never
# overwritten).
EXTRA_DIST += systemd/vmigd.service.in systemd/vmigd.conf \
	systemd/vmigd.tmpfiles systemd/vmigd.sysusers

if HAVE_SYSTEMD
systemdsystemunit_DATA = systemd/vmigd.service
endif
tmpfiles_DATA = systemd/tmpfiles.d/vmigd.conf
sysusers_DATA = systemd/sysusers.d/vmigd.conf
CLEANFILES += systemd/vmigd.service systemd/tmpfiles.d/vmigd.conf \
	systemd/sysusers.d/vmigd.conf

systemd/vmigd.service: $(srcdir)/systemd/vmigd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' \
	    -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@docdir[@]|$(docdir)|g' \
	    $(srcdir)/systemd/vmigd.service.in > $@.tmp && mv $@.tmp $@
systemd/tmpfiles.d/vmigd.conf: $(srcdir)/systemd/vmigd.tmpfiles
	$(AM_V_GEN)$(MKDIR_P) systemd/tmpfiles.d && \
	cp $(srcdir)/systemd/vmigd.tmpfiles $@
systemd/sysusers.d/vmigd.conf: $(srcdir)/systemd/vmigd.sysusers
	$(AM_V_GEN)$(MKDIR_P) systemd/sysusers.d && \
	cp $(srcdir)/systemd/vmigd.sysusers $@

vmigdconfdir = $(sysconfdir)/vmigd
install-data-local: install-vmigd-conf-example
install-vmigd-conf-example:
	$(MKDIR_P) '$(DESTDIR)$(vmigdconfdir)'
	$(INSTALL_DATA) $(srcdir)/systemd/vmigd.conf \
	    '$(DESTDIR)$(vmigdconfdir)/vmigd.conf.example'
uninstall-local: uninstall-vmigd-conf-example
uninstall-vmigd-conf-example:
	rm -f '$(DESTDIR)$(vmigdconfdir)/vmigd.conf.example'
.PHONY: install-vmigd-conf-example uninstall-vmigd-conf-example
