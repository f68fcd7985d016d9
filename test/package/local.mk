# test/package/local.mk: the Debian packaging (debian/, built with
# dpkg-buildpackage from the dist tarball by `./bootstrap packages`) and
# its test, test_debs.py (not run by make check: it needs the .debs and
# root for a mount namespace; ./bootstrap check runs it).
EXTRA_DIST += debian/changelog debian/control debian/copyright \
	debian/rules debian/source/format debian/vmigd.install \
	debian/vmigctl.install debian/python3-vmig.install \
	debian/libvmigclient-dev.install debian/vmigd-dev.install \
	debian/source/lintian-overrides debian/vmigd.sysusers \
	debian/vmigd.lintian-overrides \
	debian/not-installed \
	test/package/test_debs.py
