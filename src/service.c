/*
 * service.c: what evecho-server needs to run as a daemon among others:
 * a PID file, and giving up root once the listening sockets are bound
 * (--user), so port 7 works without systemd.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parse.h"
#include "server.h"

static const char	*service_pidfile;	/* written by us, or NULL */

/* The PID in the file at path, or 0 if there is none that parses. */
static pid_t
service_pidfile_read(const char *path)
{
	FILE	*f = fopen(path, "r");
	long	 pid = 0;

	if (f == NULL)
		return (0);
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
		pid = 0;
	fclose(f);
	return ((pid_t)pid);
}

/*
 * --pidfile: refuse if the file names a process that is still alive (a
 * server already running), else write ours, through a temporary file and
 * a rename so a reader never sees half of it.  0, or -1 with *cause.
 */
int
service_pidfile_write(const char *path, char **cause)
{
	char	 tmp[4096];
	pid_t	 old;
	FILE	*f;
	int	 fd;

	old = service_pidfile_read(path);
	if (old != 0 && old != getpid() && (kill(old, 0) == 0 ||
	    errno == EPERM)) {
		cause_set(cause, "--pidfile %s: process %ld is running", path,
		    (long)old);
		return (-1);
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.%ld", path,
	    (long)getpid()) >= sizeof tmp) {
		cause_set(cause, "--pidfile: the path is too long");
		return (-1);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		cause_set(cause, "--pidfile: cannot create '%s': %s", tmp,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return (-1);
	}
	fprintf(f, "%ld\n", (long)getpid());
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		cause_set(cause, "--pidfile: cannot write '%s': %s", path,
		    strerror(errno));
		unlink(tmp);
		return (-1);
	}
	service_pidfile = path;
	return (0);
}

/* At exit: remove the PID file, if it is still ours. */
void
service_pidfile_remove(void)
{
	if (service_pidfile == NULL)
		return;
	if (service_pidfile_read(service_pidfile) == getpid() &&
	    unlink(service_pidfile) != 0)
		log_warn("--pidfile: cannot remove %s", service_pidfile);
	service_pidfile = NULL;
}

/* Look up --user NAME before anything starts: 0, or -1 with *cause. */
int
service_user_check(const char *name, char **cause)
{
	errno = 0;
	if (getpwnam(name) == NULL) {
		cause_set(cause, "no such user '%s'%s%s", name,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return (-1);
	}
	return (0);
}

/*
 * --user: become name, its group and only its group, each step checked,
 * then make sure root cannot be had back.  Called after the sockets are
 * bound and before the first connection.  0, or -1 with *cause.
 */
int
service_drop_privileges(const char *name, char **cause)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;

	if ((pw = getpwnam(name)) == NULL) {
		cause_set(cause, "--user: no such user '%s'", name);
		return (-1);
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (geteuid() != 0 && geteuid() != uid) {
		cause_set(cause, "--user %s: only root can become another user",
		    name);
		return (-1);
	}
	if (geteuid() == 0 && setgroups(1, &gid) != 0) {
		cause_set(cause, "--user: setgroups: %s", strerror(errno));
		return (-1);
	}
	if (setgid(gid) != 0 || setuid(uid) != 0) {
		cause_set(cause, "--user %s: %s", name, strerror(errno));
		return (-1);
	}
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		cause_set(cause, "--user %s: root could be regained", name);
		return (-1);
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid) {
		cause_set(cause, "--user %s: the change did not take", name);
		return (-1);
	}
	log_info("running as user %s (uid %ld, gid %ld)", name, (long)uid,
	    (long)gid);
	return (0);
}
