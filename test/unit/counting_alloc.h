/*
 * counting_alloc.h — an allocator for tests and fuzz harnesses that counts
 * the blocks it has handed out and not yet taken back, so that a test can
 * check that the core frees everything it allocates, on success and on
 * every error path; with fail_at >= 0 every allocation from the fail_at-th
 * on fails, to walk a function's allocation failures one by one.
 * Header-only: each program gets its own counters.
 */
#ifndef COUNTING_ALLOC_H
#define COUNTING_ALLOC_H

#include <stdlib.h>

#include "ae_core.h"

static long live_blocks = 0;
static long alloc_calls = 0;
static long fail_at = -1;

static void *
CountingAlloc(void *ctx, size_t size)
{
	void	   *p;

	(void) ctx;
	if (fail_at >= 0 && alloc_calls >= fail_at)
		return NULL;
	alloc_calls++;
	p = malloc(size);
	if (p)
		live_blocks++;
	return p;
}

static void
CountingFree(void *ctx, void *ptr)
{
	(void) ctx;
	live_blocks--;
	free(ptr);
}

static const AeAllocator counting = {CountingAlloc, CountingFree, NULL};

#endif							/* COUNTING_ALLOC_H */
