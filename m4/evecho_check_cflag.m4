# EVECHO_CHECK_CFLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT])
# --------------------------------------------------------
# Compile and link an empty program with FLAG (and -Werror, so a flag the
# compiler only warns about counts as unsupported).
AC_DEFUN([EVECHO_CHECK_CFLAG], [
	AS_VAR_PUSHDEF([cache], [evecho_cv_cflag_$1])
	AC_CACHE_CHECK([whether $CC accepts $1], [cache], [
		evecho_save_CFLAGS=$CFLAGS
		evecho_save_LDFLAGS=$LDFLAGS
		CFLAGS="$CFLAGS -Werror $1"
		LDFLAGS="$LDFLAGS $1"
		AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
		    [AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
		CFLAGS=$evecho_save_CFLAGS
		LDFLAGS=$evecho_save_LDFLAGS
	])
	AS_VAR_IF([cache], [yes], [$2], [$3])
	AS_VAR_POPDEF([cache])
])
