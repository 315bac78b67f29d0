/*
 * test_norm.c — normalisation fit/apply/invert and quantiles.
 *
 * Expected values are worked out by hand (a 4×3 matrix) or are numpy's:
 * np.quantile(np.arange(1, 11), [0, .1, .25, .5, .9, .99, 1]) and
 * np.quantile([3, 1, 2, 10], [.5, .75, .95]).
 */
#include <string.h>

#include "ae_norm.h"
#include "ae_rng.h"
#include "unit.h"

/* rows: column 0 = 1,2,3,4; column 1 constant 7; column 2 = -1,1,-1,1 */
static const float X4[4 * 3] = {
	1, 7, -1,
	2, 7, 1,
	3, 7, -1,
	4, 7, 1,
};

static void
TestFit(void)
{
	float		off[3],
				sc[3],
				X[12];
	bool		finite = true;

	ae_norm_fit(AE_NORM_ZSCORE, X4, 4, 3, off, sc);
	unit_ok(unit_close(off[0], 2.5, 1e-7, 0) && unit_close(sc[0], sqrt(1.25), 1e-7, 0),
			"zscore: mean 2.5, population std sqrt(1.25) (got %g, %g)", off[0], sc[0]);
	unit_ok(off[1] == 7.0f && sc[1] == 1.0f, "zscore: constant column gets offset 7, scale 1");
	unit_ok(off[2] == 0.0f && sc[2] == 1.0f, "zscore: ±1 column has mean 0, std 1");
	memcpy(X, X4, sizeof(X));
	ae_norm_apply(off, sc, X, 4, 3);
	for (int i = 0; i < 12; i++)
		finite &= isfinite(X[i]);
	unit_ok(finite && X[1] == 0.0f && X[4] == 0.0f, "constant column normalises to 0, no NaN");

	ae_norm_fit(AE_NORM_MINMAX, X4, 4, 3, off, sc);
	unit_ok(off[0] == 1.0f && sc[0] == 3.0f && off[1] == 7.0f && sc[1] == 1.0f
			&& off[2] == -1.0f && sc[2] == 2.0f,
			"minmax: offsets (1, 7, -1), scales (3, 1, 2)");
	memcpy(X, X4, sizeof(X));
	ae_norm_apply(off, sc, X, 4, 3);
	unit_ok(X[0] == 0.0f && X[9] == 1.0f && X[2] == 0.0f && X[5] == 1.0f,
			"minmax maps each column's min to 0 and max to 1");

	ae_norm_fit(AE_NORM_NONE, X4, 4, 3, off, sc);
	unit_ok(off[0] == 0 && off[1] == 0 && off[2] == 0 && sc[0] == 1 && sc[1] == 1 && sc[2] == 1,
			"none: offset 0, scale 1");

	ae_norm_fit(AE_NORM_ZSCORE, X4, 0, 3, off, sc);
	unit_ok(off[0] == 0 && sc[0] == 1, "no rows: identity transform");
}

/* x = normalised · scale + offset: the inverse the scorer applies to outputs */
static void
Invert(const float *offset, const float *scale, float *X, size_t n, int d)
{
	for (size_t i = 0; i < n; i++)
	{
		float	   *row = X + i * d;

		for (int j = 0; j < d; j++)
			row[j] = row[j] * scale[j] + offset[j];
	}
}

static void
TestRoundTrip(void)
{
	enum {R = 500, D = 6};
	static float X[R * D],
				Y[R * D];
	float		off[D],
				sc[D];
	UnitNormal	rng;

	unit_normal_seed(&rng, 5);
	for (int i = 0; i < R * D; i++)
		X[i] = (float) (1000.0 + 50.0 * unit_normal(&rng) * (1 + i % D));
	for (int i = 0; i < R; i++)
		X[i * D + 3] = 0.1f;	/* a constant column whose mean is not exact in binary */

	for (int m = AE_NORM_NONE; m <= AE_NORM_MINMAX; m++)
	{
		double		maxrel = 0.0,
					mean = 0.0,
					var = 0.0;

		ae_norm_fit((AeNormMethod) m, X, R, D, off, sc);
		memcpy(Y, X, sizeof(X));
		ae_norm_apply(off, sc, Y, R, D);
		if (m == AE_NORM_ZSCORE)
		{
			for (int i = 0; i < R; i++)
				mean += Y[i * D];
			mean /= R;
			for (int i = 0; i < R; i++)
				var += (Y[i * D] - mean) * (Y[i * D] - mean);
			var /= R;
			unit_ok(fabs(mean) < 1e-4 && fabs(var - 1.0) < 1e-4,
					"zscore output has mean 0 and variance 1 (%.2e, %.6f)", mean, var);
			unit_ok(sc[3] == 1.0f, "zscore: constant 0.1 column gets scale 1, not its rounding noise");
		}
		Invert(off, sc, Y, R, D);
		for (int i = 0; i < R * D; i++)
			maxrel = fmax(maxrel, fabs(Y[i] - X[i]) / fabs(X[i]));
		unit_ok(maxrel < 1e-6, "%s: invert(apply(X)) = X (max rel diff %.2e)",
				ae_norm_name((AeNormMethod) m), maxrel);
	}
}

static void
TestNames(void)
{
	AeNormMethod m;
	bool		ok = true;

	for (int i = AE_NORM_NONE; i <= AE_NORM_MINMAX; i++)
		ok &= ae_norm_parse(ae_norm_name((AeNormMethod) i), &m) && m == (AeNormMethod) i;
	unit_ok(ok, "every normalisation name parses back");
	unit_ok(ae_norm_parse("ZScore", &m) && m == AE_NORM_ZSCORE, "names are case-insensitive");
	unit_ok(!ae_norm_parse("robust", &m), "unknown name rejected");
}

static void
TestQuantiles(void)
{
	float		v[10] = {7, 3, 10, 1, 5, 9, 2, 8, 6, 4};
	double		p[7] = {0, 0.1, 0.25, 0.5, 0.9, 0.99, 1},
				expect[7] = {1, 1.9, 3.25, 5.5, 9.1, 9.91, 10},
				q[7];
	float		w[4] = {3, 1, 2, 10};
	double		p2[3] = {0.5, 0.75, 0.95},
				expect2[3] = {2.5, 4.75, 8.95};
	bool		ok = true;

	ae_quantiles(v, 10, p, 7, q);
	for (int i = 0; i < 7; i++)
		ok &= unit_close(q[i], expect[i], 1e-12, 1e-12);
	unit_ok(ok, "quantiles of 1..10 match numpy (q90 %.17g, q99 %.17g)", q[4], q[5]);
	ok = true;
	for (int i = 1; i < 10; i++)
		ok &= v[i - 1] <= v[i];
	unit_ok(ok, "values are sorted in place");

	ae_quantiles(w, 4, p2, 3, q);
	ok = true;
	for (int i = 0; i < 3; i++)
		ok &= unit_close(q[i], expect2[i], 1e-12, 1e-12);
	unit_ok(ok, "quantiles of (3, 1, 2, 10) match numpy (%g, %g, %g)", q[0], q[1], q[2]);

	ae_quantiles(w, 1, p2, 1, q);
	unit_ok(q[0] == w[0], "one value: every quantile is that value");
	ae_quantiles(w, 0, p2, 1, q);
	unit_ok(isnan(q[0]), "no values: NaN");
}

static void
TestSortLarge(void)
{
	enum {M = 100003};
	static float a[M];
	AeRng		rng;
	bool		sorted = true;
	double		sum_before = 0.0,
				sum_after = 0.0,
				p = 0.5,
				q;

	/* many duplicates and a sorted run exercise the partition's edge cases */
	ae_rng_seed(&rng, 11);
	for (int i = 0; i < M; i++)
	{
		a[i] = (i < M / 3) ? (float) i : (float) ae_rng_below(&rng, 100);
		sum_before += a[i];
	}
	ae_quantiles(a, M, &p, 1, &q);
	for (int i = 0; i < M; i++)
	{
		sorted &= i == 0 || a[i - 1] <= a[i];
		sum_after += a[i];
	}
	unit_ok(sorted && sum_before == sum_after, "100003 values with duplicates sort into a permutation");

	for (int i = 0; i < M; i++)
		a[i] = (float) (M - i);
	ae_quantiles(a, M, &p, 1, &q);
	unit_ok(q == (M + 1) / 2.0, "reverse-sorted input: median %.1f", q);
}

/*
 * The fit walks columns in blocks, row by row; each column must still sum
 * its rows in row order: equal, bit for bit, to the plain column walk
 * written out here (d = 150 spans two full blocks and a partial one).
 */
static void
TestFitBlocks(void)
{
	enum
	{
		N = 1000, D = 150
	};
	static float X[N * D];
	float		off[D],
				sc[D];
	AeRng		rng;
	int			bad = 0;

	ae_rng_seed(&rng, 7);
	ae_rng_normal_floats(&rng, X, (size_t) N * D);
	for (int i = 0; i < N; i++)
		X[i * D + 3] = 5.0f;	/* a constant column */
	for (int m = 0; m < 3; m++)
	{
		AeNormMethod method = m == 0 ? AE_NORM_ZSCORE : m == 1 ? AE_NORM_MINMAX : AE_NORM_NONE;
		float		means[D];
		int			bad_mean = 0;

		bad = 0;
		ae_norm_fit_cols(method, X, N, D, D, off, sc, means);
		for (int j = 0; j < D; j++)
		{
			double		lo = X[j],
						hi = X[j],
						sum = 0.0,
						ss = 0.0,
						mean;
			float		want_off,
						want_sc;

			for (int i = 0; i < N; i++)
			{
				sum += X[i * D + j];
				lo = fmin(lo, X[i * D + j]);
				hi = fmax(hi, X[i * D + j]);
			}
			mean = sum / N;
			for (int i = 0; i < N; i++)
				ss += (X[i * D + j] - mean) * (X[i * D + j] - mean);
			want_off = method == AE_NORM_ZSCORE ? (float) mean : method == AE_NORM_MINMAX ? (float) lo : 0.0f;
			want_sc = method == AE_NORM_ZSCORE ? (float) sqrt(ss / N) :
				method == AE_NORM_MINMAX ? (float) (hi - lo) : 1.0f;
			if (hi == lo)
				want_sc = 1.0f;
			bad += off[j] != want_off || sc[j] != want_sc;
			/* the means come with the fit: the row-order double sum, as a column walk gives it */
			bad_mean += means[j] != (float) mean;
		}
		unit_ok(bad == 0, "%s over %d columns in blocks: every offset and scale equals the column walk's (%d differ)",
				ae_norm_name(method), D, bad);
		unit_ok(bad_mean == 0, "%s: every column mean comes out of the fit exactly (%d differ)",
				ae_norm_name(method), bad_mean);
		unit_ok(off[3] == (method == AE_NORM_NONE ? 0.0f : 5.0f) && sc[3] == 1.0f,
				"%s: the constant column gets scale 1", ae_norm_name(method));
	}
}

/* binary cross-entropy's targets: rounding off [0, 1] clamped, more refused */
static void
TestClampUnit(void)
{
	float		x[6] = {0.0f, 1.0f, -5e-6f, 1.0f + 5e-6f, 0.5f, 1.5f};
	float		nan_x[2] = {0.25f, 0.0f};
	size_t		bad = ae_norm_clamp_unit(x, 6);

	unit_ok(bad == 5, "the first value beyond the slack is found (index %zu)", bad);
	unit_ok(x[0] == 0.0f && x[1] == 1.0f && x[2] == 0.0f && x[3] == 1.0f && x[4] == 0.5f,
			"values within 1e-5 of [0, 1] are clamped into it, others kept");
	unit_ok(x[5] == 1.5f, "the value refused is left as it was");
	unit_ok(ae_norm_clamp_unit(x, 5) == 5, "all within: n");
	nan_x[1] = nan_x[1] / nan_x[1];
	unit_ok(ae_norm_clamp_unit(nan_x, 2) == 1, "a NaN is refused");
	unit_ok(ae_norm_clamp_unit(x, 0) == 0, "no values: 0");
}

int
main(void)
{
	TestClampUnit();
	TestFit();
	TestFitBlocks();
	TestRoundTrip();
	TestNames();
	TestQuantiles();
	TestSortLarge();
	return unit_done();
}
