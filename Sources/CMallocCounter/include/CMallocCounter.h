#ifndef RINGLAB_CMALLOCCOUNTER_H
#define RINGLAB_CMALLOCCOUNTER_H
// Test support: counts heap allocations made by the calling thread between begin and end.
// Linked into the test executable only, where its malloc family interposes on glibc's for the
// whole process (the executable's definitions come first in symbol resolution).

/// Starts counting allocations on the calling thread (from zero).
void malloc_counter_begin(void);

/// Stops counting on the calling thread and returns how many allocations it made.
long malloc_counter_end(void);

#endif
