/*
 * exitcode.h: exit statuses.  evecho-cli and evecho-benchmark share one
 * table (README, "Exit status of evecho-cli and evecho-benchmark"); every
 * program exits EXIT_USAGE for a bad command line.
 */
#ifndef EVECHO_EXITCODE_H
#define EVECHO_EXITCODE_H

#define EXIT_ECHOED		0	/* every byte sent came back */
#define EXIT_ECHO_FAILED	1	/* mismatch, reset, closed early, I/O */
#define EXIT_UNREACHABLE	2	/* cannot resolve or connect to it */
#define EXIT_TIMEOUT		3	/* connected, then it fell silent */
#define EXIT_USAGE		64	/* bad command line (EX_USAGE) */

#endif
