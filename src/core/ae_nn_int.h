/*
 * ae_nn_int.h — internals shared by the files of the network (ae_nn.c,
 * ae_objective.c, ae_loss.c, ae_workspace.c, ae_contractive.c).  Not part
 * of the core's interface.
 *
 * Shape legend: B rows, d input width, h code width; for weight layer l,
 * I = dims[l] inputs and O = dims[l+1] outputs.
 */
#ifndef AE_NN_INT_H
#define AE_NN_INT_H

#include <stdio.h>

#include "ae_nn.h"

/* A validation message into errbuf (AE_ERRBUF_SIZE bytes), which may be NULL. */
#define AE_ERR(errbuf, ...) \
	do { if (errbuf) snprintf((errbuf), AE_ERRBUF_SIZE, __VA_ARGS__); } while (0)

/*
 * Scratch of forward/backward.  One allocation carved into buffers; every
 * matrix is row-major with as many rows as the batch at hand (≤ max_batch)
 * so that a batch is always one contiguous block.
 */
struct AeWorkspace
{
	void	   *block;			/* the allocation, as returned by the allocator */
	int			max_batch;
	float	   *act[AE_MAX_HIDDEN + 1];	/* (B, dims[l+1]) a_l; act[L-1] is x̂ */
	float	   *delta[2];		/* (B, widest) ∂loss/∂z, ping-pong */
	float	   *kl_grad;		/* (code width) ∂KL/∂a_bj, the same for every b */

	/* a backward pass stopped by ae_loss_grad_begin: where ae_loss_grad_finish goes on */
	int			bw_next;		/* the next weight layer down, or -1: none pending */
	int			bw_B;
	const float *bw_x_in;
	float	   *bw_dcur;		/* ∂loss/∂a of layer bw_next */

	/* contractive penalty (NULL / 0 when the workspace was made without) */
	bool		has_contractive;
	int			c_samples;		/* obj->contractive_samples it was sized for */
	int			c_tangents;		/* K: tangents per row (d exact, k projections) */
	int			c_chunk;		/* rows per chunk of the tangent computation */
	float	   *c_extra[AE_MAX_HIDDEN + 1];	/* (B, dims[l+1]) ∂penalty/∂z_l, l ≤ code */
	float	   *c_d1[AE_MAX_HIDDEN + 1];	/* (chunk, dims[l+1]) f'(z_l) */
	float	   *c_d2[AE_MAX_HIDDEN + 1];	/* (chunk, dims[l+1]) f''(z_l) */
	float	   *c_U[AE_MAX_HIDDEN + 1];	/* (chunk·K, dims[l+1]) W_l t_{l-1} */
	float	   *c_T[AE_MAX_HIDDEN + 1];	/* (chunk·K, dims[l+1]) f'(z_l) ⊙ U_l */
	float	   *c_G[2];			/* (chunk·K, widest encoder layer) ∂penalty/∂t */
	float	   *c_V;			/* (chunk·K, d) random projections */
	float	   *c_W0T;			/* (d, dims[1]) W_0ᵀ, exact deep case */
	float	   *c_acc0;			/* (d, dims[1]) Σ_b of ∂penalty/∂U_0, exact deep case */
};

/* 64-byte aligned sub-buffers keep every row block on its own cache lines */
#define AE_ALIGN_FLOATS 16

/* The next n floats from *cursor, which moves on to the next aligned block. */
static inline float *
ae_carve(float **cursor, size_t n)
{
	float	   *p = *cursor;

	*cursor += (n + AE_ALIGN_FLOATS - 1) / AE_ALIGN_FLOATS * AE_ALIGN_FLOATS;
	return p;
}

/* ---------------------------------------------------------------- one weight layer (ae_nn.c) */

/* forward: out (B, O) = f_l(in (B, I) W_lᵀ + b_l); W_l transposed for tied layers */
void		ae_layer_forward(const AeModel *model, int l, const float *in, int B, float *out);

/*
 * backward of the same layer: dout (B, O) holds ∂loss/∂out and becomes
 * ∂loss/∂z; dz_extra (B, O) or NULL is added to it; dW and db accumulate
 * into grad; din (B, I) or NULL receives ∂loss/∂in.
 */
void		ae_layer_backward(const AeModel *model, int l, const float *in, const float *out, int B,
							  float *dout, const float *dz_extra, float *grad, float *din);

/* ---------------------------------------------------------------- losses (ae_loss.c) */

/*
 * Reconstruction loss (mse or bce) of xhat against x (n = B·d floats
 * each); when dxhat is not NULL, ∂loss/∂x̂ (n) written in the same pass.
 */
double		ae_recon_loss(AeLoss loss, const float *xhat, const float *x, size_t n, float *dxhat);

/* λ·(1/B)Σ|a| over the code activations a (n = B·h floats). */
double		ae_l1_penalty(float lambda, const float *a, size_t n, int B);

/*
 * β·Σ_j KL(ρ‖ρ̂_j) of the code activations a (B, h), ρ̂ their column means
 * or rho_hat (h, not NULL: a whole batch's of which a is a part); kl_grad
 * (h) or NULL gets ∂KL/∂a_bj.
 */
double		ae_kl_penalty(float beta, float rho, const float *a, int B, int h,
						  const double *rho_hat, float *kl_grad);

/*
 * backward of both sparsity terms: d (B, h) += l1_scale·sign(a) + kl_grad
 * (broadcast over rows; NULL: no KL term).
 */
void		ae_code_penalty_backward(float *d, const float *a, int B, int h, float l1_scale,
									 const float *kl_grad);

/* ---------------------------------------------------------------- contractive penalty (ae_contractive.c) */

/* Floats of contractive scratch for a model; fills the sizes into ws when not NULL. */
size_t		ae_contractive_layout(const AeModel *model, int samples, int max_batch,
								  AeWorkspace *ws, float *base);

/*
 * Contractive penalty of the batch whose activations are in ws->act (and
 * input x, B×d).  Returns γ·(1/B)Σ_b‖J_b‖²_F.  When grad is not NULL, adds
 * the part of the gradient that does not flow through the activations to
 * grad, and leaves in ws->c_extra[l] (l ≤ code layer) the extra ∂penalty/∂z_l
 * that the ordinary backward pass adds to its deltas.
 */
double		ae_contractive(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
						   const float *x, int B, float *grad, AeRng *rng);

#endif							/* AE_NN_INT_H */
