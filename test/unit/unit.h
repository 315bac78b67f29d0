/*
 * unit.h — a tiny TAP producer for the C unit tests of the core.
 *
 * Each test binary prints "ok N - name" / "not ok N - name" lines and a plan,
 * so prove(1) runs and counts them like the pgTAP suite.  Only tests use
 * stdio and malloc: the core itself never does.
 */
#ifndef AE_UNIT_H
#define AE_UNIT_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ae_core.h"
#include "ae_rng.h"

static int	unit_count = 0;
static int	unit_failed = 0;

static inline void
unit_ok(int cond, const char *fmt,...)
{
	va_list		ap;

	unit_count++;
	if (!cond)
		unit_failed++;
	printf("%sok %d - ", cond ? "" : "not ", unit_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* A diagnostic line (TAP comment). */
static inline void
unit_diag(const char *fmt,...)
{
	va_list		ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* |a - b| <= atol + rtol·|b| */
static inline int
unit_close(double a, double b, double atol, double rtol)
{
	return isfinite(a) && isfinite(b) && fabs(a - b) <= atol + rtol * fabs(b);
}

/* Print the plan and return the process exit status. */
static inline int
unit_done(void)
{
	printf("1..%d\n", unit_count);
	return unit_failed == 0 ? 0 : 1;
}

static inline void *
unit_alloc(void *ctx, size_t size)
{
	(void) ctx;
	return malloc(size);
}

static inline void
unit_free(void *ctx, void *ptr)
{
	(void) ctx;
	free(ptr);
}

static const AeAllocator unit_allocator = {unit_alloc, unit_free, NULL};

/*
 * Standard normals for test data, by Box–Muller over the core's generator;
 * normals come in pairs and the spare is kept.  (The core's own noise is
 * ae_rng_normal_floats, the ziggurat; this one only makes data.)
 */
typedef struct UnitNormal
{
	AeRng		rng;
	int			has_spare;
	double		spare;
} UnitNormal;

static inline void
unit_normal_seed(UnitNormal *g, uint64_t seed)
{
	ae_rng_seed(&g->rng, seed);
	g->has_spare = 0;
}

static inline double
unit_normal(UnitNormal *g)
{
	/* u1 in (0, 1]: log(0) must never happen */
	double		u1,
				u2,
				radius;

	if (g->has_spare)
	{
		g->has_spare = 0;
		return g->spare;
	}
	u1 = 1.0 - ae_rng_uniform(&g->rng);
	u2 = ae_rng_uniform(&g->rng);
	radius = sqrt(-2.0 * log(u1));
	g->spare = radius * sin(6.283185307179586 * u2);
	g->has_spare = 1;
	return radius * cos(6.283185307179586 * u2);
}

#endif							/* AE_UNIT_H */
