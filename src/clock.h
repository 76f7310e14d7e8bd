/* clock.h: the monotonic clock, and microseconds as a struct timeval. */
#ifndef EVECHO_CLOCK_H
#define EVECHO_CLOCK_H

#include <sys/time.h>

#include <stdint.h>

uint64_t	clock_now_ns(void);
uint64_t	clock_now_us(void);
struct timeval	clock_timeval(uint64_t us);

#endif
