/*
 * ae_infer.h — inference on one row at a time, the scoring hot path.
 *
 * Scoring in a query runs the network on a single row per call.  For the
 * small layers of typical autoencoders a BLAS call per layer costs more in
 * dispatch than in arithmetic, so this file offers a fused kernel: every
 * layer's weights are kept transposed (in × out, "packed"), and one layer is
 * a run of broadcast-multiply-adds into a few vector accumulators held in
 * registers.  The result equals ae_forward_range() on the same row up to
 * float32 rounding (the sum over inputs is split into a few interleaved
 * partial sums, and fused multiply-adds round differently):
 * test/unit/test_infer.c checks it.
 *
 * On x86-64 with GCC or clang the kernel is compiled twice, portable (SSE2)
 * and AVX2+FMA, and the faster one is picked at run time from the CPU's
 * features.  Elsewhere it is plain C.
 */
#ifndef AE_INFER_H
#define AE_INFER_H

#include "ae_nn.h"

/* Floats of the packed weights of model (every layer's W transposed). */
size_t		ae_infer_packed_size(const AeModel *model);

/*
 * Write the packed weights: for each weight layer l in order, a
 * dims[l] × dims[l+1] row-major matrix P_l with P_l[i][j] = W_l[j][i]
 * (tied decoder layers: their twin's W copied as stored, which is already
 * in × out).  Biases are not copied: they stay in model->b[].
 */
void		ae_infer_pack(const AeModel *model, float *packed);

/* Floats of scratch ae_infer_row needs. */
size_t		ae_infer_scratch_size(const AeModel *model);

/*
 * One row through weight layers [from, to): in has dims[from] floats, out
 * dims[to]; in and out must not overlap scratch.  Same ranges as
 * ae_forward_range (encode [0, code+1), decode [code+1, L), reconstruct
 * [0, L)).
 */
void		ae_infer_row(const AeModel *model, const float *packed, int from, int to,
						 const float *in, float *out, float *scratch);

/*
 * z[j] = (x[j] - offset[j]) / scale[j] for j < n, with the rounding of
 * ae_norm_apply.  Returns false when some z[j] is NaN or infinite (x held a
 * NaN or an infinity, or the quotient overflowed).
 */
bool		ae_infer_normalize(const float *x, const float *offset, const float *scale,
							   float *z, int n);

/*
 * Σ_j (a[j] - b[j])², each difference taken in float32 and squared and
 * summed in double (in an order of its own: equal to a plain loop up to
 * double rounding).  NaN or infinite when a difference is.
 */
double		ae_infer_sq_diff_sum(const float *a, const float *b, int n);

/*
 * Which variant the functions above run: "avx2" or "portable".  Tests and
 * benchmarks may force the portable one; the choice is per process.
 */
const char *ae_infer_variant(void);
void		ae_infer_force_portable(bool portable);

#endif							/* AE_INFER_H */
