#ifndef TANDEM_MALLOC_COUNTER_H
#define TANDEM_MALLOC_COUNTER_H

/// Number of heap allocations (malloc, calloc, realloc, aligned variants) made by the process
/// since it started. The benchmark executable links this target, which interposes the
/// allocation functions and forwards them to glibc.
unsigned long long tandem_allocation_count(void);

/// Bytes of heap memory in use (glibc's mallinfo2), for the memory benchmark.
unsigned long long tandem_heap_in_use(void);

#endif
