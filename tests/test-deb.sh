#!/bin/sh
# test-deb.sh: the Debian package.  `make deb` builds it from a clean copy
# of the distribution (make distdir, so never in the source tree, which
# make distcheck leaves read-only); lintian finds no error and no warning
# in it; dpkg -i installs it on this machine with the programs, man
# pages, systemd units (enabled, even with no systemd running) and
# logrotate snippet where dpkg -L says; and dpkg --purge leaves nothing
# behind.  The package is purged on the way out whatever happened.
# Needs root, dpkg-buildpackage, debhelper, fakeroot and lintian; skips
# when evecho is installed already (from a package or not), rather than
# clobber it.  About 20 s (two cores), most of it the package's build.
. "${EVECHO_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
if [ "${EVECHO_SANITIZERS:-no}" = yes ]; then
	echo "skip: the sanitizer build: the package ignores its flags, and is built and tested in the plain build"
	exit 77
fi
[ "$(id -u)" -eq 0 ] || { echo "skip: installing a package needs root"; exit 77; }
for t in dpkg-buildpackage dpkg-parsechangelog dh fakeroot lintian; do
	skip_unless "$t"
done

T=$TMPDIR_T
SRC=${EVECHO_SRCDIR:-..}
B=$EVECHO_BUILDDIR
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$B/config.h")
ARCH=$(dpkg --print-architecture)
DEB=$T/out/evecho_${VERSION}_$ARCH.deb
CHANGES=$T/out/evecho_${VERSION}_$ARCH.changes
PROGRAMS="evecho-server evecho-cli evecho-benchmark"
[ -n "$VERSION" ] || { echo "no PACKAGE_VERSION in $B/config.h"; exit 99; }

# Another run of this test (make -j check in two trees) would install and
# purge the same package under this one: one at a time.
LOCK=/run/lock
[ -d "$LOCK" ] && [ -w "$LOCK" ] || LOCK=${TMPDIR:-/tmp}
LOCK=$LOCK/evecho-test-deb.lock
skip_unless flock
exec 9>"$LOCK" || { echo "FAIL: cannot open $LOCK"; exit 1; }
flock -w 900 9 || { echo "skip: another test-deb.sh held $LOCK for 15 min"; exit 77; }

# installed_state: dpkg's state of evecho ("" when dpkg never knew it).
installed_state() {
	dpkg-query -W -f='${db:Status-Status}' evecho 2>/dev/null
}
case $(installed_state) in
"" | not-installed) ;;
*)	echo "skip: an evecho package is installed ($(installed_state)): not replacing it"
	exit 77 ;;
esac
for p in $PROGRAMS; do
	if [ -e "/usr/bin/$p" ]; then
		echo "skip: /usr/bin/$p exists, not from a package: not overwriting it"
		exit 77
	fi
done

# Purge on every way out; the trap of lib.sh runs after it.
INSTALLED=
purge() {
	if [ -n "$INSTALLED" ]; then
		timeout 120 dpkg --purge evecho >"$T/purge.trap.out" 2>&1 ||
		    cat "$T/purge.trap.out" >&2
		INSTALLED=
	fi
	cleanup
}
trap purge EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The build.  MAKEFLAGS of a make check above would reach the package's
# own make through dpkg-buildpackage: scripts/deb.am does not pass it on.
timeout 900 make -C "$B" deb DEB_WORKDIR="$T/work" DEB_OUTDIR="$T/out" \
    >"$T/build.out" 2>&1
rc=$?
check "make deb succeeds ($rc)" test "$rc" -eq 0
check "it writes evecho_${VERSION}_$ARCH.deb" test -f "$DEB"
check "and the .changes" test -f "$CHANGES"
if [ ! -f "$DEB" ]; then
	tail -40 "$T/build.out"
	finish
	exit 1
fi
check "the package is built from a distdir copy, not the source tree" \
    test ! -e "$SRC/debian/evecho" -a ! -e "$SRC/debian/files"
check "the package's version is configure's ($VERSION)" \
    test "$(dpkg-deb -f "$DEB" Version)" = "$VERSION"
check "its tests ran (or were skipped by nocheck)" sh -c \
    "grep -q '^PASS: tests/check_parse' '$T/build.out' ||
     case \" \${DEB_BUILD_OPTIONS:-} \" in *' nocheck '*) ;; *) false;; esac"

# Every file of debian/ is in the distribution (listed in scripts/deb.am):
# a distdir of our own, since make deb's is gone.  What a build in the
# source tree leaves in debian/ is not counted.
make -s -C "$B" distdir distdir="$T/dist" >"$T/dist.out" 2>&1 ||
    { cat "$T/dist.out"; echo "FAIL: make distdir"; exit 1; }
(cd "$SRC" && find debian \( -name evecho -o -name evecho-dbgsym \
    -o -name tmp -o -name .debhelper -o -name files -o -name '*.substvars' \
    -o -name '*.debhelper' -o -name '*.debhelper.log' \
    -o -name debhelper-build-stamp \) -prune -o ! -type d -print) |
    sort >"$T/debian.src"
missing=
while read -r f; do
	[ -e "$T/dist/$f" ] || missing="$missing $f"
done <"$T/debian.src"
check "every file of debian/ is distributed${missing:+ (missing:$missing)}" \
    test -z "$missing"

# lintian at its default level, whatever a lintianrc says.
# Exit 2 is a tag at --fail-on's level, 1 lintian's own failure.
timeout 300 lintian --no-cfg --ignore-lintian-env --fail-on error,warning \
    "$CHANGES" >"$T/lintian.out" 2>&1
rc=$?
check "lintian runs and passes ($rc)" test "$rc" -eq 0
check "lintian: no errors, no warnings" sh -c "! grep -E '^[EW]: ' '$T/lintian.out'"

# Install.
INSTALLED=yes
timeout 300 dpkg -i "$DEB" >"$T/install.out" 2>&1
rc=$?
check "dpkg -i succeeds ($rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || cat "$T/install.out"
check "evecho is installed" test "$(installed_state)" = installed
for p in $PROGRAMS; do
	check "/usr/bin/$p --version says $VERSION" \
	    test "$("/usr/bin/$p" --version 2>&1)" = "$p $VERSION"
done
dpkg -L evecho >"$T/files" 2>&1
# listed PATH: dpkg -L evecho names PATH, and it is a file there.
listed() {
	grep -qx "$1" "$T/files" && test -f "$1" && test -s "$1"
}
for p in $PROGRAMS; do
	check "$p.1 is installed" listed "/usr/share/man/man1/$p.1.gz"
done
check "the logrotate snippet is installed" listed /etc/logrotate.d/evecho
check "as contrib/logrotate/evecho" cmp -s /etc/logrotate.d/evecho \
    "$SRC/contrib/logrotate/evecho"
check "as a conffile" sh -c \
    "dpkg-query -W -f='\${Conffiles}' evecho | grep -q ' /etc/logrotate.d/evecho '"
check "the copyright file is installed" listed /usr/share/doc/evecho/copyright
for u in evecho.service evecho.socket; do
	check "$u is installed" listed "/lib/systemd/system/$u"
	# Enabled as its [Install] says: a link to it in a .wants or
	# .requires directory, made by deb-systemd-helper even when
	# systemd is not running.
	# (The socket must be, whatever it says: below.)
	if [ "$u" != evecho.socket ] &&
	    grep -Eq '^(WantedBy|RequiredBy)=' "/lib/systemd/system/$u" 2>/dev/null; then
		check "$u is enabled" test -n \
		    "$(find /etc/systemd/system -lname "*/$u" 2>/dev/null)"
	fi
done
check "the service runs the packaged server" grep -Eq \
    '^ExecStart=/usr/bin/evecho-server( |$)' /lib/systemd/system/evecho.service
check "the socket is enabled" test -n \
    "$(find /etc/systemd/system -lname '*/evecho.socket' 2>/dev/null)"
for u in evecho.service evecho.socket; do
	check "removing stops $u" grep -Eq \
	    "deb-systemd-invoke stop .*'$u'" /var/lib/dpkg/info/evecho.prerm
done
if [ -d /run/systemd/system ]; then
	check "systemd listens on evecho.socket" systemctl -q is-active evecho.socket
else
	echo "skip: systemd is not running here: units not started (postinst did not fail)"
fi

# Purge, and nothing is left.
timeout 120 dpkg --purge evecho >"$T/purge.out" 2>&1
rc=$?
INSTALLED=
check "dpkg --purge succeeds ($rc)" test "$rc" -eq 0
[ "$rc" -eq 0 ] || cat "$T/purge.out"
check "evecho is no longer installed" sh -c \
    "case \$(dpkg-query -W -f='\${db:Status-Status}' evecho 2>/dev/null) in
     ''|not-installed) ;; *) false;; esac"
left=
while read -r f; do
	[ -f "$f" ] && left="$left $f"
done <"$T/files"
check "none of its files is left${left:+ (left:$left)}" test -z "$left"
check "no unit is left enabled" test -z \
    "$(find /etc/systemd/system -lname '*/evecho.s*' 2>/dev/null)"
if [ -d /run/systemd/system ]; then
	check "no unit is left running" sh -c \
	    '! systemctl -q is-active evecho.socket evecho.service'
fi
if [ "$FAILED" -ne 0 ]; then
	echo "--- lintian"; cat "$T/lintian.out"
	echo "--- build (end)"; tail -30 "$T/build.out"
fi
finish
