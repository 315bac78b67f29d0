/*
 * ae_norm.h — input normalisation, kept with the model.
 *
 * normalised = (x - offset) / scale, per column.  A column with zero variance
 * (zscore) or zero range (minmax) gets scale 1, so it maps to a constant
 * instead of NaN.
 */
#ifndef AE_NORM_H
#define AE_NORM_H

#include "ae_core.h"

typedef enum AeNormMethod
{
	AE_NORM_NONE = 0,			/* offset 0, scale 1 */
	AE_NORM_ZSCORE,				/* offset mean, scale population std dev */
	AE_NORM_MINMAX				/* offset min, scale max - min */
} AeNormMethod;

/* Name and parse by the rule of ae_names.h (defined in ae_names.c). */
const char *ae_norm_name(AeNormMethod method);
bool		ae_norm_parse(const char *name, AeNormMethod *method);

/* Fit offset[d], scale[d] on n rows of X (n×d row-major); sums in double. */
void		ae_norm_fit(AeNormMethod method, const float *X, size_t n, int d,
						float *offset, float *scale);
void		ae_norm_apply(const float *offset, const float *scale, float *X, size_t n, int d);

/*
 * The same on the first d of the stride floats of each row (a mixed model's
 * plain inputs, ahead of its one-hot groups); the other columns' offset and
 * scale are not touched.  mean (d floats, or NULL) receives each column's
 * mean, summed in double in row order, whatever the method (with
 * AE_NORM_NONE only the means are computed).
 */
void		ae_norm_fit_cols(AeNormMethod method, const float *X, size_t n, int stride, int d,
							 float *offset, float *scale, float *mean);
void		ae_norm_apply_cols(const float *offset, const float *scale, float *X, size_t n,
							   int stride, int d);

/*
 * Binary cross-entropy's targets: each of the n floats of X within
 * AE_UNIT_SLACK of [0, 1] is clamped into it (minmax normalisation puts a
 * column's extremes at 0 and 1 only to rounding).  Returns n when every
 * value was, else the index of the first that is not (X is clamped up to
 * it).
 */
#define AE_UNIT_SLACK	1e-5f
size_t		ae_norm_clamp_unit(float *X, size_t n);

/*
 * Quantiles of n values (sorted in place), linear interpolation between
 * order statistics (numpy's default): q[i] = quantile(probs[i]).
 */
void		ae_quantiles(float *values, size_t n, const double *probs, int nq, double *q);

#endif							/* AE_NORM_H */
