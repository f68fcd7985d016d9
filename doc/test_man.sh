#!/bin/sh
# test_man.sh: the generated man pages pass `mandoc -T lint` at the style
# level (every message fails the test), each lists what its program's
# table defines, and README.md's configuration table names every key.
set -u
b=${VMIG_BUILDDIR:?make check sets VMIG_BUILDDIR}
s=${VMIG_SRCDIR:?make check sets VMIG_SRCDIR}
if ! command -v mandoc >/dev/null 2>&1; then
	echo "mandoc is not installed (Debian: mandoc; bootstrap installs it)"
	exit 77
fi
rc=0
for m in vmigd.8 vmigd.conf.5 vmigctl.1; do
	# the pages are not installed here: cross-references cannot resolve
	out=$(mandoc -T lint -W style "$b/doc/$m" 2>&1 |
	    grep -v 'referenced manual not found\|outdated mandoc.db')
	if [ -n "$out" ]; then
		echo "$out"
		rc=1
	fi
	grep -q '@GENERATE\|@VERSION@\|@sysconfdir@' "$b/doc/$m" &&
		{ echo "$m: a template line left"; rc=1; }
done
"$b/doc/mangen" list > keys.tmp || rc=1
while read -r key; do
	opt=$(echo "${key#*] }" | tr _ -)
	grep -q -- "^\.It Fl \\\\-$opt Ar" "$b/doc/vmigd.8" ||
		{ echo "vmigd.8: no --$opt"; rc=1; }
	grep -q -- "^\.It Cm ${key#*] } No" "$b/doc/vmigd.conf.5" ||
		{ echo "vmigd.conf.5: no $key"; rc=1; }
	grep -qF -- "\`$key\`" "$s/README.md" ||
		{ echo "README.md: no \`$key\` in the configuration table"; rc=1; }
done < keys.tmp
rm -f keys.tmp
for c in $("$b/clients/vmigctl" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]*\) .*/\1/p'); do
	grep -q "^\.Cm $c\$" "$b/doc/vmigctl.1" ||
		{ echo "vmigctl.1: no command $c"; rc=1; }
done
[ $rc -eq 0 ] && echo "man pages: lint clean, every option, key and command listed"
exit $rc
