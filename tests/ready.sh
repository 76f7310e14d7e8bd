# ready.sh: the shell tests' one reader of a server's readiness line.
# Source it (it defines a function and nothing else), then:
#
#   port=$(wait_ready FILE PID [SECONDS]) || fail ...
#
# waits until the server whose standard output goes to FILE has printed
# "listening on HOST:PORT" as a whole line, and prints PORT (the first
# listener's).  Fails as soon as PID has exited, or after SECONDS
# (default 10; slow wrappers such as valgrind want more).  Empty FILE
# before starting the server: the shell truncates it in the child, which
# may run after wait_ready has read the previous server's line.
wait_ready() {
	_wr_file=$1
	_wr_pid=$2
	_wr_left=$(( ${3:-10} * 20 ))
	while [ "$_wr_left" -gt 0 ]; do
		# wc counts newlines: a line still being written is not read.
		if [ "$(wc -l <"$_wr_file" 2>/dev/null || echo 0)" -ge 1 ]; then
			_wr_port=$(sed -n '1s/^listening on .*://p' "$_wr_file")
			[ -n "$_wr_port" ] || return 1
			echo "$_wr_port"
			return 0
		fi
		kill -0 "$_wr_pid" 2>/dev/null || return 1
		sleep 0.05
		_wr_left=$((_wr_left - 1))
	done
	return 1
}
