/*
 * ae_act.h — activation functions, applied to whole layers at a time.
 *
 * Every function switches on the activation once and then runs one tight
 * loop over the layer, so the hot path has no per-element dispatch.
 *
 * Derivatives are computed from the activation a = f(z), never from z: for
 * every activation we support, f'(z) and f''(z) are functions of a alone
 * (sigmoid a(1-a), tanh 1-a², ELU a+1 below zero, ReLU family: the sign of
 * a equals the sign of z).  So the forward pass keeps one buffer per layer,
 * overwriting z with a, and the backward pass reads only that.
 *
 * Shapes: B rows, n units per row, row-major.
 */
#ifndef AE_ACT_H
#define AE_ACT_H

#include <stddef.h>

#include "ae_nn.h"

#define AE_LEAKY_SLOPE	0.01f	/* torch.nn.LeakyReLU default negative_slope */
#define AE_ELU_ALPHA	1.0f	/* torch.nn.ELU default alpha */

/* za (B×n) holds z = x Wᵀ without bias; on return a = f(z + bias). */
void		ae_act_forward(AeActivation act, float *za, const float *bias, int B, int n);

/*
 * delta (B×n) holds ∂loss/∂a; on return ∂loss/∂z = delta ⊙ f'(z), with f'
 * taken from a (B×n).  When db is not NULL, adds the column sums of the
 * result to db (n): the bias gradient, in the same pass.
 */
void		ae_act_backward(AeActivation act, float *delta, const float *a, float *db,
							int B, int n);

/* d1 = f'(z) and, when d2 is not NULL, d2 = f''(z), elementwise from a (count floats). */
void		ae_act_derivs(AeActivation act, const float *a, float *d1, float *d2, size_t count);

/*
 * e[k] = exp(z[k] - m) for k < n, with the activations' vector exponential
 * (e may be z, or NULL); returns Σ e[k] in double.
 */
double		ae_exp_shift(const float *z, int n, float m, float *e);

/* "avx2" or "portable": the kernels in use (chosen at the first call). */
const char *ae_act_variant(void);

/* Tests: true forces the portable kernels, false returns to the best one. */
void		ae_act_force_portable(bool portable);

/* True when f'' = 0 almost everywhere (linear and the ReLU family but ELU). */
static inline bool
ae_act_is_piecewise_linear(AeActivation act)
{
	return act == AE_ACT_LINEAR || act == AE_ACT_RELU || act == AE_ACT_LEAKY_RELU;
}

#endif							/* AE_ACT_H */
