#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <zmq.h>

/// Names the calling thread (shown by top, gdb and perf); at most 15 characters are kept.
static inline void sls_name_current_thread(const char *name) {
#if defined(__linux__)
    char truncated[16];
    int i = 0;
    for (; i < 15 && name[i] != '\0'; i++) truncated[i] = name[i];
    truncated[i] = '\0';
    pthread_setname_np(pthread_self(), truncated);
#else
    (void)name;
#endif
}
