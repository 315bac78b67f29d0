/*
 * ae_nn_int.h — internals shared by the files of the network (ae_nn.c,
 * ae_loss.c, ae_contractive.c).  Not part of the core's interface.
 */
#ifndef AE_NN_INT_H
#define AE_NN_INT_H

#include "ae_nn.h"

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

/* out (B×dims[l+1]) = f_l(in (B×dims[l]) W_lᵀ + b_l); W_l transposed for tied layers. */
void		ae_layer_forward(const AeModel *model, int l, const float *in, int B, float *out);

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
