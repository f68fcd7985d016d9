# mangen.awk: copy a man page template, replacing each line
#	.\" @GENERATE command args@
# with what that command (run in the build directory) prints: the lists
# the programs write from their own tables (doc/mangen, vmigctl --mdoc).
/^\.\\" @GENERATE .*@$/ {
	cmd = $0
	sub(/^\.\\" @GENERATE /, "", cmd)
	sub(/@$/, "", cmd)
	n = 0
	while ((cmd | getline line) > 0) {
		print line
		n++
	}
	if (close(cmd) != 0 || n == 0) {
		print "mangen.awk: " cmd ": failed" > "/dev/stderr"
		exit 1
	}
	next
}
{ print }
