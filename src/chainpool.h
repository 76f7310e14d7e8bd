/* chainpool.h: a free list for libevent's buffer chains. */
#ifndef EVECHO_CHAINPOOL_H
#define EVECHO_CHAINPOOL_H

void	chainpool_install(void);

#endif
