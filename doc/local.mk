# doc/local.mk: the man pages vmigd(8), vmigd.conf(5) and vmigctl(1),
# generated into the build from templates (doc/*.in) and the programs'
# own tables: conf.c's (doc/mangen) and vmigctl's (vmigctl --mdoc). An
# option or key is documented once, where it is defined.
MAN_GEN = doc/vmigd.8 doc/vmigd.conf.5 doc/vmigctl.1
nodist_man_MANS = $(MAN_GEN)
CLEANFILES += $(MAN_GEN)
EXTRA_DIST += doc/vmigd.8.in doc/vmigd.conf.5.in doc/vmigctl.1.in \
	doc/mangen.awk

noinst_PROGRAMS += doc/mangen
doc_mangen_SOURCES = doc/mangen.c doc/mdoc.c doc/mdoc.h
doc_mangen_CPPFLAGS = $(libvmig_a_CPPFLAGS) -I$(srcdir)/doc
doc_mangen_LDADD = $(VMIG_LIBS)

MAN_SUBST = sed -e 's|@VERSION[@]|$(VERSION)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@plugindir[@]|$(plugindir)|g' \
	-e 's|@docdir[@]|$(docdir)|g'
MAN_RULE = $(MKDIR_P) doc && \
	$(AWK) -f $(srcdir)/doc/mangen.awk $(srcdir)/$@.in | $(MAN_SUBST) \
	> $@.tmp && mv $@.tmp $@
doc/vmigd.8: $(srcdir)/doc/vmigd.8.in doc/mangen$(EXEEXT) \
	$(srcdir)/doc/mangen.awk Makefile
	$(AM_V_GEN)$(MAN_RULE)
doc/vmigd.conf.5: $(srcdir)/doc/vmigd.conf.5.in doc/mangen$(EXEEXT) \
	$(srcdir)/doc/mangen.awk Makefile
	$(AM_V_GEN)$(MAN_RULE)
doc/vmigctl.1: $(srcdir)/doc/vmigctl.1.in clients/vmigctl$(EXEEXT) \
	$(srcdir)/doc/mangen.awk Makefile
	$(AM_V_GEN)$(MAN_RULE)

# How Nova and KubeVirt would drive vmigd (python3 -m vmig.migrate), the
# architecture; HACKING.md travels with the sources only.
dist_doc_DATA += doc/orchestrators.md DESIGN.md
EXTRA_DIST += HACKING.md

# mandoc -T lint on the pages; README's configuration table names every key.
MAN_TESTS = doc/test_man.sh
TESTS += $(MAN_TESTS)
EXTRA_DIST += $(MAN_TESTS)
