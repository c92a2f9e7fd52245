#define _GNU_SOURCE
#include "CRealtime.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static volatile sig_atomic_t pending_stop_signal = 0;

static void record_stop_signal(int number) {
    if (pending_stop_signal == 0) pending_stop_signal = number;
}

int rt_install_stop_signal_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record_stop_signal;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGINT, &action, NULL) != 0) return -errno;
    if (sigaction(SIGTERM, &action, NULL) != 0) return -errno;
    // A parent may have started us with these signals blocked (the mask is inherited through
    // exec); a controller that cannot be stopped is worse than one that can.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    int rc = pthread_sigmask(SIG_UNBLOCK, &stop_signals, NULL);
    return rc == 0 ? 0 : -rc;
}

int rt_pending_stop_signal(void) { return pending_stop_signal; }

void rt_clear_stop_signal(void) { pending_stop_signal = 0; }

int rt_lock_memory(void) {
    return mlockall(MCL_CURRENT | MCL_FUTURE) == 0 ? 0 : errno;
}

int rt_set_fifo_priority(int priority) {
    struct sched_param parameters = { .sched_priority = priority };
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters);
}

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
