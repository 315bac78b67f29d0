/*
 * ae_core.h — shared definitions of autoenc's numerical core.
 *
 * The core (everything under src/core/) is plain C99 + CBLAS.  It includes no
 * PostgreSQL header, never calls malloc/exit/printf, and reports failures as
 * AeStatus codes: the SQL layer turns them into ereport(ERROR), the unit tests
 * into assertions.  Memory comes from a caller-supplied AeAllocator so that
 * inside a backend every byte lives in a PostgreSQL memory context.
 */
#ifndef AE_CORE_H
#define AE_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum AeStatus
{
	AE_OK = 0,
	AE_ERR_NOMEM,				/* the allocator returned NULL */
	AE_ERR_CONFIG,				/* invalid architecture or option value */
	AE_ERR_DATA,				/* invalid data: non-finite value, too few rows */
	AE_ERR_NONFINITE,			/* loss or gradient became NaN/Inf while training */
	AE_ERR_CANCELED,			/* a callback asked to stop */
	AE_ERR_FORMAT				/* a serialized model is malformed */
} AeStatus;

/* Human-readable, lowercase, no trailing period (PostgreSQL errmsg style). */
const char *ae_status_string(AeStatus status);

/*
 * Allocator hook.  alloc returns NULL on failure (never longjmps out of the
 * core while it holds half-built state it must undo — the core holds none,
 * so a longjmp-ing allocator such as palloc is also acceptable).  Memory must
 * be aligned for float/double.
 */
typedef struct AeAllocator
{
	void	   *(*alloc) (void *ctx, size_t size);
	void		(*free) (void *ctx, void *ptr);
	void	   *ctx;
} AeAllocator;

static inline void *
ae_alloc(const AeAllocator *al, size_t size)
{
	return al->alloc(al->ctx, size);
}

static inline void
ae_free(const AeAllocator *al, void *ptr)
{
	if (ptr)
		al->free(al->ctx, ptr);
}

/*
 * The one non-finite test of the core: a float is NaN or ±Infinity exactly
 * when its exponent bits are all set.  A bit test, not isfinite(), so that
 * loops OR-ing it over many values (vector lanes included, with
 * AE_FLOAT_EXP_MASK) stay free of branches and floating-point compares.
 */
#define AE_FLOAT_EXP_MASK UINT32_C(0x7f800000)

static inline bool
ae_float_bits_nonfinite(uint32_t bits)
{
	return (~bits & AE_FLOAT_EXP_MASK) == 0;
}

static inline bool
ae_float_nonfinite(float v)
{
	uint32_t	bits;

	memcpy(&bits, &v, sizeof(bits));
	return ae_float_bits_nonfinite(bits);
}

/* True when none of x[0..n) is NaN or infinite; one branch-free pass per block. */
bool		ae_all_finite(const float *x, size_t n);

/* Error text buffers passed into validation functions have at least this size. */
#define AE_ERRBUF_SIZE 256

#endif							/* AE_CORE_H */
