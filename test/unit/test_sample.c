/*
 * test_sample.c — the shuffle buffer and the reservoir (ae_sample.h).
 *
 * Shuffle buffer: every row leaves exactly once; no row leaves more than
 * cap places before it arrived; with cap ≥ n the order is a permutation
 * drawn like ae_rng_shuffle's.  Reservoir: below cap it keeps every value;
 * above, its quantiles of 0 .. n-1 are within the rank error the streamed
 * training documents (0.0061 for 100 000 values), and its mean is near the
 * stream's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ae_norm.h"
#include "ae_rng.h"
#include "ae_sample.h"
#include "unit.h"

/* Stream rows 0 .. n-1 (row i holds the values i, -i) through a buffer of cap rows. */
static void
RunBuffer(size_t n, size_t cap, uint32_t *order)
{
	float	   *rows = malloc(sizeof(float) * 2 * cap);
	uint32_t   *perm = malloc(sizeof(uint32_t) * cap);
	AeShuffleBuf b;
	AeRng		rng;
	size_t		k = 0;
	float		row[2],
				out[2];

	ae_rng_seed(&rng, 7);
	ae_shufbuf_init(&b, rows, perm, cap, 2, &rng);
	for (size_t i = 0; i < n; i++)
	{
		row[0] = (float) i;
		row[1] = -(float) i;
		if (ae_shufbuf_push(&b, row, out))
			order[k++] = (uint32_t) out[0];
	}
	for (size_t m = ae_shufbuf_drain(&b), i = 0; i < m; i++)
		order[k++] = (uint32_t) rows[perm[i] * 2];
	unit_ok(k == n, "buffer of %zu rows: %zu rows left of %zu", cap, k, n);
	free(rows);
	free(perm);
}

static void
TestBuffer(void)
{
	size_t		n = 10000;
	uint32_t   *order = malloc(sizeof(uint32_t) * n);
	char	   *seen = calloc(n, 1);
	bool		once = true,
				local = true,
				moved = false;
	size_t		cap = 100;

	RunBuffer(n, cap, order);
	for (size_t k = 0; k < n; k++)
	{
		once &= order[k] < n && !seen[order[k]];
		if (order[k] < n)
			seen[order[k]] = 1;
		/* row order[k] left at position k: at most cap places before it arrived */
		local &= (double) order[k] - (double) k <= (double) cap;
		moved |= order[k] != k;
	}
	unit_ok(once, "every row leaves exactly once");
	unit_ok(local, "no row leaves more than cap places early");
	unit_ok(moved, "the rows are shuffled");

	/* cap ≥ n: the order is ae_rng_shuffle's permutation of the rows */
	{
		uint32_t	want[1000];
		AeRng		rng;

		RunBuffer(1000, 1000, order);
		ae_rng_seed(&rng, 7);
		for (uint32_t i = 0; i < 1000; i++)
			want[i] = i;
		ae_rng_shuffle(&rng, want, 1000);
		unit_ok(memcmp(order, want, sizeof(want)) == 0,
				"a buffer holding every row leaves them in one uniform permutation");
	}
	free(order);
	free(seen);
}

static void
TestReservoir(void)
{
	size_t		cap = 100000;
	float	   *values = malloc(sizeof(float) * cap);
	AeReservoir r;
	AeRng		rng;
	size_t		n = 1000000;
	double		probs[] = {0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99};
	double		q[7];
	double		worst = 0,
				mean = 0;
	bool		all = true;

	ae_rng_seed(&rng, 11);
	ae_reservoir_init(&r, values, cap, &rng);
	for (size_t i = 0; i < 500; i++)
		ae_reservoir_add(&r, (float) i);
	for (size_t i = 0; i < 500; i++)
		all &= values[i] == (float) i;
	unit_ok(ae_reservoir_size(&r) == 500 && all, "below cap every value is kept, in order");

	ae_reservoir_init(&r, values, cap, &rng);
	for (size_t i = 0; i < n; i++)
		ae_reservoir_add(&r, (float) i);
	unit_ok(ae_reservoir_size(&r) == cap, "above cap the sample holds cap values");
	for (size_t i = 0; i < cap; i++)
		mean += values[i] / (double) cap;
	unit_ok(fabs(mean / n - 0.5) < 0.005, "the sample's mean is the stream's (%.4f of n)", mean / n);
	ae_quantiles(values, cap, probs, 7, q);
	for (int i = 0; i < 7; i++)
		worst = fmax(worst, fabs(q[i] / (double) (n - 1) - probs[i]));
	unit_ok(worst <= 0.0061, "sample quantiles within 0.0061 in rank of the exact ones (worst %.5f)", worst);
	free(values);
}

int
main(void)
{
	TestBuffer();
	TestReservoir();
	return unit_done();
}
