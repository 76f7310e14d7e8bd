#!/bin/sh
# scale.sh: open 100,000 concurrent connections to evecho-server and say
# what they cost.
#
# The command users run (and `make scale`); scripts/scale.py does the work:
# it starts the build tree's server with enough --workers (each worker is
# one process, so one open-file limit, per ~19,000 connections), several
# evecho-benchmark processes in hold mode (each at most ~19,000
# connections, bound to source addresses 127.0.0.2 and up so that the
# ephemeral ports suffice), checks that every connection echoed once,
# measures a short ping-pong run while they are held, and prints one table:
# connections held, time to open them, server RSS per connection, the
# kernel's socket memory, the ping-pong p99 and the workers used.  It
# changes nothing system-wide, stops everything it started by pid, and is
# bounded in time.  --quick is the 20,000-connection run of `make check`.
# See --help.
#
# Run it from the top of the build tree.  Plain sh, since make runs it with
# $(SHELL).
python=${PYTHON3:-python3}
here=$(cd "$(dirname "$0")" && pwd) || exit 1
if ! command -v "$python" >/dev/null 2>&1; then
	echo "scale.sh: python3 not found (set PYTHON3)" >&2
	exit 1
fi
PYTHONDONTWRITEBYTECODE=1 exec "$python" "$here/scale.py" "$@"
