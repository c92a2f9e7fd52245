#define _GNU_SOURCE
#include "CMallocCounter.h"
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

// glibc's own entry points, which these wrappers forward to.
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

// Initial-exec thread-locals in the executable: usable from the first malloc on.
static __thread int counting;
static __thread long allocations;
static __thread void *first_caller;
static __thread size_t first_size;
static __thread const char *excluded_library;
static __thread long excluded;

// Whether the allocation's caller lives in the excluded library (dladdr does not allocate).
static int from_excluded(void *caller) {
    if (excluded_library == NULL) return 0;
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, excluded_library) != NULL;
}

// Counts one allocation; the first one's caller and size are kept.
#define COUNT(size)                                          \
    do {                                                     \
        if (counting) {                                      \
            void *caller = __builtin_return_address(0);      \
            if (from_excluded(caller)) {                     \
                excluded++;                                  \
                break;                                       \
            }                                                \
            if (allocations == 0) {                          \
                first_caller = caller;                       \
                first_size = (size);                         \
            }                                                \
            allocations++;                                   \
        }                                                    \
    } while (0)

void malloc_counter_begin_excluding(const char *library) {
    counting = 0;
    excluded_library = library;
    excluded = 0;
    allocations = 0;
    first_caller = NULL;
    counting = 1;
}

long malloc_counter_excluded(void) { return excluded; }

void malloc_counter_begin(void) {
    excluded_library = NULL;
    excluded = 0;
    allocations = 0;
    first_caller = NULL;
    counting = 1;
}

long malloc_counter_end(void) {
    counting = 0;
    return allocations;
}

void malloc_counter_first_caller(char *text, long capacity) {
    if (capacity <= 0) return;
    text[0] = 0;
    if (first_caller == NULL) return;
    Dl_info info;
    if (dladdr(first_caller, &info) && info.dli_sname) {
        snprintf(text, (size_t)capacity, "%s+%#lx (%s), %zu bytes", info.dli_sname,
                 (unsigned long)((char *)first_caller - (char *)info.dli_saddr), info.dli_fname, first_size);
    } else {
        int found = dladdr(first_caller, &info);
        snprintf(text, (size_t)capacity, "%s+%#lx, %zu bytes", found && info.dli_fname ? info.dli_fname : "?",
                 found ? (unsigned long)((char *)first_caller - (char *)info.dli_fbase) : 0UL, first_size);
    }
}

void *malloc(size_t size) {
    COUNT(size);
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    COUNT(count * size);
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    COUNT(size);
    return __libc_realloc(pointer, size);
}

void free(void *pointer) { __libc_free(pointer); }

void *memalign(size_t alignment, size_t size) {
    COUNT(size);
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    COUNT(size);
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    COUNT(size);
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}
