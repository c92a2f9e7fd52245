#ifndef RINGLAB_CREALTIME_H
#define RINGLAB_CREALTIME_H
// Shims for the real-time calls Swift cannot import directly (CPU_SET and friends are macros).
#include <stdint.h>

/// Pins the calling thread to one CPU. Returns 0 or the error number (pthread_setaffinity_np).
int rt_pin_current_thread_to_cpu(int cpu);

/// Number of CPUs the calling thread may run on (sched_getaffinity), or -errno.
int rt_allowed_cpu_count(void);
/// Confines every thread of the process (and the threads they start afterwards) to the allowed
/// CPUs but the last, the one a drive loop pins itself to; saves the inherited set. 0 or an
/// error number.
int rt_keep_off_loop_cpu(void);
/// Gives the calling thread back the set saved by rt_keep_off_loop_cpu. 0 or an error number.
int rt_restore_inherited_affinity(void);

/// CLOCK_MONOTONIC in nanoseconds (clock_gettime).
int64_t rt_monotonic_nanoseconds(void);

/// Sleeps until an absolute CLOCK_MONOTONIC deadline, retrying on EINTR
/// (clock_nanosleep with TIMER_ABSTIME). Returns 0 or the error number.
int rt_sleep_until_monotonic_nanoseconds(int64_t deadline);

/// Installs SIGINT and SIGTERM handlers that only record the signal (async-signal-safe);
/// the drive loop polls `rt_pending_stop_signal` once per period. Returns 0 or -errno.
int rt_install_stop_signal_handlers(void);
/// Empties the calling thread's signal mask (the threads it starts inherit it). 0 or -error.
int rt_unblock_all_signals(void);

int rt_ignore_broken_pipe(void);

/// The first SIGINT/SIGTERM received since installation or the last clear, or 0.
int rt_pending_stop_signal(void);

/// Forgets a recorded stop signal.
void rt_clear_stop_signal(void);

/// mlockall(MCL_CURRENT | MCL_FUTURE): 0 or errno.
int rt_lock_memory(void);

/// Sets the calling thread to SCHED_FIFO at `priority`: 0 or the error number.
int rt_set_fifo_priority(int priority);

#endif

/// Installs handlers for the signals a crashing process dies of (SIGILL, SIGTRAP, SIGABRT,
/// SIGSEGV, SIGBUS, SIGFPE): each shuts down every socket the process holds (shutdown(2) is
/// async-signal-safe), so a board served over the network sees its client go away at once and
/// drives itself safe, then hands the signal to the handler installed before (Swift's
/// backtracer) or to the default action. Returns 0, or -1 if a handler could not be installed.
int rt_install_crash_socket_shutdown(void);
