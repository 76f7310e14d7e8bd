# EVECHO_PTHREAD
# -----------------
# The benchmark runs one event loop per thread; on glibc -pthread is enough.
AC_DEFUN([EVECHO_PTHREAD], [
	EVECHO_CHECK_CFLAG([-pthread], [PTHREAD_CFLAGS=-pthread PTHREAD_LIBS=-pthread],
	    [AC_MSG_ERROR([the compiler does not accept -pthread])])
	AC_SUBST([PTHREAD_CFLAGS])
	AC_SUBST([PTHREAD_LIBS])
])
