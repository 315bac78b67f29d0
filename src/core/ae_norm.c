/*
 * ae_norm.c — per-column normalisation (fit / apply) and quantiles.  The
 * way back to original units is the scorer's (ae_scorer_denormalise), which
 * checks each value as it goes.
 *
 * Sums run in double: a float accumulator over a million rows loses the
 * low digits of the mean, and the variance with them.
 */
#include "ae_norm.h"

#include <math.h>

#define NORM_BLOCK 64			/* columns whose statistics one pass over the rows gathers */

void
ae_norm_fit(AeNormMethod method, const float *X, size_t n, int d,
			float *offset, float *scale)
{
	ae_norm_fit_cols(method, X, n, d, d, offset, scale, NULL);
}

void
ae_norm_fit_cols(AeNormMethod method, const float *X, size_t n, int stride, int d,
				 float *offset, float *scale, float *mean_out)
{
	for (int j = 0; j < d; j++)
	{
		offset[j] = 0.0f;
		scale[j] = 1.0f;
		if (mean_out)
			mean_out[j] = 0.0f;
	}
	if ((method == AE_NORM_NONE && mean_out == NULL) || n == 0)
		return;

	/*
	 * Columns in blocks of NORM_BLOCK, each block's statistics accumulated
	 * row by row: every row's block is one contiguous read, where walking a
	 * column strides d floats per row (44 % of a short training on 200k
	 * rows went there).  Each column still sums its rows in row order, so
	 * the result is the column-by-column one, bit for bit.
	 */
	for (int j0 = 0; j0 < d; j0 += NORM_BLOCK)
	{
		int			w = d - j0 < NORM_BLOCK ? d - j0 : NORM_BLOCK;
		double		lo[NORM_BLOCK],
					hi[NORM_BLOCK],
					sum[NORM_BLOCK],
					mean[NORM_BLOCK],
					ss[NORM_BLOCK];

		for (int k = 0; k < w; k++)
		{
			lo[k] = hi[k] = X[j0 + k];
			sum[k] = ss[k] = 0.0;
		}
		for (size_t i = 0; i < n; i++)
		{
			const float *row = X + i * stride + j0;

			for (int k = 0; k < w; k++)
			{
				double		x = row[k];

				/* compares, not fmin/fmax calls: the rows are finite (checked when read) */
				sum[k] += x;
				lo[k] = x < lo[k] ? x : lo[k];
				hi[k] = x > hi[k] ? x : hi[k];
			}
		}
		for (int k = 0; k < w; k++)
		{
			mean[k] = sum[k] / (double) n;
			if (mean_out)
				mean_out[j0 + k] = (float) mean[k];
		}
		if (method == AE_NORM_NONE)
			continue;
		if (method == AE_NORM_ZSCORE)
		{
			/* two passes: Σ(x − mean)² does not cancel like Σx² − n·mean² */
			for (size_t i = 0; i < n; i++)
			{
				const float *row = X + i * stride + j0;

				for (int k = 0; k < w; k++)
				{
					double		dx = row[k] - mean[k];

					ss[k] += dx * dx;
				}
			}
		}
		for (int k = 0; k < w; k++)
		{
			int			j = j0 + k;

			if (method == AE_NORM_MINMAX)
			{
				offset[j] = (float) lo[k];
				scale[j] = (float) (hi[k] - lo[k]);
			}
			else
			{
				offset[j] = (float) mean[k];
				scale[j] = (float) sqrt(ss[k] / (double) n);
			}

			/*
			 * A constant column (hi == lo) would divide by zero, or by the
			 * rounding noise of its mean; scale 1 maps it to a constant.
			 */
			if (hi[k] == lo[k] || !(scale[j] > 0.0f) || !isfinite(scale[j]))
				scale[j] = 1.0f;
		}
	}
}

size_t
ae_norm_clamp_unit(float *X, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		/* the negated test also stops at a NaN */
		if (!(X[i] >= -AE_UNIT_SLACK && X[i] <= 1.0f + AE_UNIT_SLACK))
			return i;
		X[i] = X[i] < 0.0f ? 0.0f : X[i] > 1.0f ? 1.0f : X[i];
	}
	return n;
}

void
ae_norm_apply(const float *offset, const float *scale, float *X, size_t n, int d)
{
	ae_norm_apply_cols(offset, scale, X, n, d, d);
}

void
ae_norm_apply_cols(const float *offset, const float *scale, float *X, size_t n, int stride, int d)
{
	for (size_t i = 0; i < n; i++)
	{
		float	   *row = X + i * stride;

		for (int j = 0; j < d; j++)
			row[j] = (row[j] - offset[j]) / scale[j];
	}
}

/* ---------------------------------------------------------------- sorting */

/*
 * An in-place introsort (quicksort, heapsort when recursion runs deep,
 * insertion sort for short ranges): qsort may allocate, and the core must
 * not.  NaN sorts after every number.
 */
static inline bool
Less(float a, float b)
{
	return a < b || (isnan(b) && !isnan(a));
}

static inline void
Swap(float *a, float *b)
{
	float		t = *a;

	*a = *b;
	*b = t;
}

static void
InsertionSort(float *x, size_t n)
{
	for (size_t i = 1; i < n; i++)
	{
		float		v = x[i];
		size_t		j = i;

		for (; j > 0 && Less(v, x[j - 1]); j--)
			x[j] = x[j - 1];
		x[j] = v;
	}
}

static void
SiftDown(float *x, size_t root, size_t n)
{
	for (;;)
	{
		size_t		child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && Less(x[child], x[child + 1]))
			child++;
		if (!Less(x[root], x[child]))
			return;
		Swap(&x[root], &x[child]);
		root = child;
	}
}

static void
HeapSort(float *x, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		SiftDown(x, i, n);
	for (size_t end = n; end-- > 1;)
	{
		Swap(&x[0], &x[end]);
		SiftDown(x, 0, end);
	}
}

static void
IntroSort(float *x, size_t n, int depth)
{
	while (n > 16)
	{
		size_t		mid = n / 2,
					i,
					j;
		float		pivot;

		if (depth-- == 0)
		{
			HeapSort(x, n);
			return;
		}
		/* median of three into x[mid]; x[0] ≤ pivot ≤ x[n−1] bound the scans */
		if (Less(x[mid], x[0]))
			Swap(&x[mid], &x[0]);
		if (Less(x[n - 1], x[mid]))
		{
			Swap(&x[n - 1], &x[mid]);
			if (Less(x[mid], x[0]))
				Swap(&x[mid], &x[0]);
		}
		pivot = x[mid];

		/* Hoare partition: [0, j] ≤ pivot ≤ [j + 1, n) */
		i = 0;
		j = n - 1;
		for (;;)
		{
			while (Less(x[i], pivot))
				i++;
			while (Less(pivot, x[j]))
				j--;
			if (i >= j)
				break;
			Swap(&x[i], &x[j]);
			i++;
			j--;
		}
		/* recurse into the smaller side, loop on the larger: O(log n) stack */
		if (j + 1 < n - j - 1)
		{
			IntroSort(x, j + 1, depth);
			x += j + 1;
			n -= j + 1;
		}
		else
		{
			IntroSort(x + j + 1, n - j - 1, depth);
			n = j + 1;
		}
	}
	InsertionSort(x, n);
}

void
ae_quantiles(float *values, size_t n, const double *probs, int nq, double *q)
{
	int			depth = 0;

	for (size_t m = n; m > 1; m >>= 1)
		depth += 2;
	IntroSort(values, n, depth);

	for (int k = 0; k < nq; k++)
	{
		double		p = probs[k],
					h,
					t,
					a,
					b;
		size_t		lo;

		if (n == 0 || isnan(p))
		{
			q[k] = NAN;
			continue;
		}
		p = fmin(fmax(p, 0.0), 1.0);
		/* numpy's "linear" method: virtual index h = (n − 1)·p */
		h = (double) (n - 1) * p;
		lo = (size_t) floor(h);
		if (lo >= n - 1)
		{
			q[k] = values[n - 1];
			continue;
		}
		t = h - (double) lo;
		a = values[lo];
		b = values[lo + 1];
		/* numpy's _lerp: from the nearer end, so t = 1 gives b exactly */
		q[k] = t >= 0.5 ? b - (b - a) * (1.0 - t) : a + (b - a) * t;
	}
}
