#ifndef RINGLAB_CMALLOCCOUNTER_H
#define RINGLAB_CMALLOCCOUNTER_H
// Test support: counts heap allocations made by the calling thread between begin and end.
// Linked into the test executable only, where its malloc family interposes on glibc's for the
// whole process (the executable's definitions come first in symbol resolution).

/// Starts counting allocations on the calling thread (from zero).
void malloc_counter_begin(void);

/// Stops counting on the calling thread and returns how many allocations it made.
long malloc_counter_end(void);

/// Starts counting like `malloc_counter_begin`, but allocations made directly by code in a
/// shared object whose path contains `library` are counted apart (`malloc_counter_excluded`):
/// for a library whose own allocations are not the caller's to avoid.
void malloc_counter_begin_excluding(const char *library);

/// Allocations counted apart since the last begin.
long malloc_counter_excluded(void);

/// Where the first counted allocation came from: the symbol of the code that called the
/// allocator (or its address) and the size asked for, written into `text` (NUL-terminated);
/// empty when nothing was counted. Makes a failing no-allocation test say what allocated.
void malloc_counter_first_caller(char *text, long capacity);

#endif
