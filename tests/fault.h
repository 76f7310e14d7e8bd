/*
 * fault.h: what the fault tests add to harness.h: descriptor counts of a
 * running server, connects from a chosen loopback source, resets, and the
 * counters of the server's exit line.
 */
#ifndef EVECHO_FAULT_H
#define EVECHO_FAULT_H

#include <sys/types.h>

#include <stdint.h>

/* Open descriptors of pid (entries of /proc/PID/fd), or -1. */
int	fault_fd_count(pid_t pid);
/* Poll until pid has at most want descriptors or timeout_ms pass; returns
 * the last count. */
int	fault_fd_settle(pid_t pid, int want, int timeout_ms);
/* Connect to 127.0.0.1:port from source address src (NULL: any). */
int	fault_connect_from(const char *src, int port, int timeout_ms);
/* Close fd with a reset (SO_LINGER 0). */
void	fault_reset(int fd);
/* A fresh client echoes 1 MiB byte-exact, then EOF after half-close. */
int	fault_echo_ok(int port, uint64_t seed);
/* The number before " name" on the last line of text holding "label: ",
 * e.g. fault_counter(err, "exit", "accepted"); -1 if absent. */
long long fault_counter(const char *text, const char *label, const char *name);
/* 1 under --enable-sanitizers (EVECHO_SANITIZERS=yes). */

#endif
