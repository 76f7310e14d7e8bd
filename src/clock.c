/*
 * clock.c: the monotonic clock, which wall-clock steps do not move, for
 * every timeout and measurement; and microseconds as the struct timeval
 * libevent's timers take.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <stdint.h>
#include <time.h>

#include "clock.h"

/* Monotonic nanoseconds. */
uint64_t
clock_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

/* Monotonic microseconds. */
uint64_t
clock_now_us(void)
{
	return (clock_now_ns() / 1000);
}

/* us microseconds as a struct timeval. */
struct timeval
clock_timeval(uint64_t us)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return (tv);
}
