#define _GNU_SOURCE
#include "CRealtime.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

int rt_pin_current_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

int rt_allowed_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
    return CPU_COUNT(&set);
}

int64_t rt_monotonic_nanoseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

int rt_sleep_until_monotonic_nanoseconds(int64_t deadline) {
    struct timespec when = { .tv_sec = deadline / 1000000000LL, .tv_nsec = deadline % 1000000000LL };
    int rc;
    // clock_nanosleep returns the error number itself and does not set errno.
    while ((rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL)) == EINTR) {}
    return rc;
}
