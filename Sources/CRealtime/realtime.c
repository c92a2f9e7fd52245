#define _GNU_SOURCE
#include "CRealtime.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <dirent.h>
#include <stdlib.h>
#include <sys/types.h>

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

int rt_unblock_all_signals(void) {
    sigset_t none;
    sigemptyset(&none);
    int rc = pthread_sigmask(SIG_SETMASK, &none, NULL);
    return rc == 0 ? 0 : -rc;
}

/* A peer that closes a socket mid-write (libiio's network backend writes with plain send())
 * would kill the process with SIGPIPE before any safe-state code runs; ignored, the write
 * fails with EPIPE and the caller handles it. */
int rt_ignore_broken_pipe(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &action, NULL) == 0 ? 0 : errno;
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

static cpu_set_t inherited_affinity;
static int inherited_affinity_saved = 0;

int rt_keep_off_loop_cpu(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -errno;
    inherited_affinity = set;
    inherited_affinity_saved = 1;
    if (CPU_COUNT(&set) < 2) return 0;
    int last = -1;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &set)) last = cpu;
    }
    CPU_CLR(last, &set);
    // Every thread the process has now (a runtime may have started worker threads before
    // main's code runs); threads started later inherit the set of the thread that starts them.
    DIR *tasks = opendir("/proc/self/task");
    if (tasks == NULL) return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    int result = 0;
    struct dirent *entry;
    while ((entry = readdir(tasks)) != NULL) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
        pid_t task = (pid_t)atoi(entry->d_name);
        if (sched_setaffinity(task, sizeof set, &set) != 0 && errno != ESRCH) result = errno;
    }
    closedir(tasks);
    return result;
}

int rt_restore_inherited_affinity(void) {
    if (!inherited_affinity_saved) return 0;
    return pthread_setaffinity_np(pthread_self(), sizeof inherited_affinity, &inherited_affinity);
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

#include <sys/socket.h>
#include <sys/stat.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int crash_signals[] = {SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE};
#define CRASH_SIGNAL_COUNT (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction previous_crash_actions[CRASH_SIGNAL_COUNT];

// A previous handler that returns (Swift's backtracer does) relies on the faulting instruction
// faulting again. A crash signal sent by kill(2) or raise(3) (si_code <= 0) has no faulting
// instruction: returning would let the process run on, so the signal ends it here instead.
static void end_if_sent(int signal_number, const siginfo_t *info) {
    if (info != NULL && info->si_code > 0) return;
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

static void crash_socket_shutdown(int signal_number, siginfo_t *info, void *context) {
    // Only async-signal-safe calls here: fstat and shutdown on every descriptor.
    for (int fd = 3; fd < 4096; fd++) {
        struct stat status;
        if (fstat(fd, &status) == 0 && S_ISSOCK(status.st_mode)) shutdown(fd, SHUT_RDWR);
    }
    for (unsigned index = 0; index < CRASH_SIGNAL_COUNT; index++) {
        if (crash_signals[index] != signal_number) continue;
        struct sigaction *previous = &previous_crash_actions[index];
        if ((previous->sa_flags & SA_SIGINFO) && previous->sa_sigaction) {
            sigaction(signal_number, previous, NULL);
            previous->sa_sigaction(signal_number, info, context);
            end_if_sent(signal_number, info);
            return;
        }
        if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN && previous->sa_handler) {
            sigaction(signal_number, previous, NULL);
            previous->sa_handler(signal_number);
            end_if_sent(signal_number, info);
            return;
        }
    }
    // Default action: restore it and let the signal end the process.
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

int rt_install_crash_socket_shutdown(void) {
    int result = 0;
    for (unsigned index = 0; index < CRASH_SIGNAL_COUNT; index++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = crash_socket_shutdown;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        if (sigaction(crash_signals[index], &action, &previous_crash_actions[index]) != 0) result = -1;
    }
    // A parent may have started us with these blocked (the mask is inherited through exec: a
    // child of a Dispatch or Foundation thread gets theirs). A blocked SIGABRT or SIGSEGV sent by
    // kill(2) would wait forever instead of ending the process; called first in main, every
    // thread started later inherits the unblocked mask.
    sigset_t crash_set;
    sigemptyset(&crash_set);
    for (unsigned index = 0; index < CRASH_SIGNAL_COUNT; index++) sigaddset(&crash_set, crash_signals[index]);
    if (pthread_sigmask(SIG_UNBLOCK, &crash_set, NULL) != 0) result = -1;
    return result;
}
