/*
 * ae_nn.c — the network itself: architecture checks, the parameter layout,
 * weight initialisation, one weight layer's forward and backward pass, and
 * the inference forward pass.
 *
 * The batch objective that chains the layers' passes is ae_objective.c;
 * losses and regularisers are ae_loss.c and ae_contractive.c, activation
 * functions ae_act.c.
 *
 * Shape legend: B rows of a batch; for weight layer l, I = dims[l] inputs
 * and O = dims[l+1] outputs; d the input (= output) width.
 */
#include "ae_nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ae_act.h"
#include "ae_blas.h"
#include "ae_groups.h"
#include "ae_names.h"
#include "ae_nn_int.h"
#include "ae_simd.h"

/* the activations the name table knows are the valid ones */
static inline bool
ActivationValid(AeActivation act)
{
	return ae_name_of(ae_activation_names, (int) act) != NULL;
}

/* ---------------------------------------------------------------- architecture */

void
ae_arch_make(AeArch *arch, int n_inputs, int n_hidden, const int *hidden,
			 AeActivation act, AeActivation output_act, bool tied)
{
	int			narrowest = 0;
	int			ties[AE_MAX_HIDDEN];
	int			n_ties = 0;

	memset(arch, 0, sizeof(*arch));
	arch->n_inputs = n_inputs;
	arch->n_hidden = n_hidden;
	arch->output_act = output_act;
	arch->tied = tied;
	/* out-of-range counts are kept for ae_arch_validate to report */
	for (int i = 0; i < n_hidden && i < AE_MAX_HIDDEN; i++)
	{
		arch->hidden[i] = hidden[i];
		arch->hidden_act[i] = act;
		if (i == 0 || hidden[i] < hidden[narrowest])
			narrowest = i;
	}
	/* several layers share the narrowest width: take the middle one of them */
	for (int i = 0; i < n_hidden && i < AE_MAX_HIDDEN; i++)
		if (hidden[i] == hidden[narrowest])
			ties[n_ties++] = i;
	arch->code_layer = n_ties > 0 ? ties[(n_ties - 1) / 2] : 0;
}

AeStatus
ae_arch_validate(const AeArch *arch, char *errbuf)
{
	int			k = arch->n_hidden;

	if (arch->n_inputs < 1 || arch->n_inputs > AE_MAX_WIDTH)
	{
		AE_ERR(errbuf, "input width %d is out of range; widths must be between 1 and %d",
			   arch->n_inputs, AE_MAX_WIDTH);
		return AE_ERR_CONFIG;
	}
	if (k < 1 || k > AE_MAX_HIDDEN)
	{
		AE_ERR(errbuf, "%d hidden layers requested; the number of hidden layers must be between 1 and %d",
			   k, AE_MAX_HIDDEN);
		return AE_ERR_CONFIG;
	}
	for (int i = 0; i < k; i++)
	{
		if (arch->hidden[i] < 1 || arch->hidden[i] > AE_MAX_WIDTH)
		{
			AE_ERR(errbuf, "hidden layer %d has width %d; widths must be between 1 and %d",
				   i + 1, arch->hidden[i], AE_MAX_WIDTH);
			return AE_ERR_CONFIG;
		}
		if (!ActivationValid(arch->hidden_act[i]))
		{
			AE_ERR(errbuf, "hidden layer %d has an unknown activation (%d)",
				   i + 1, (int) arch->hidden_act[i]);
			return AE_ERR_CONFIG;
		}
	}
	if (arch->output_act != AE_ACT_LINEAR && arch->output_act != AE_ACT_SIGMOID)
	{
		AE_ERR(errbuf, "output activation must be linear or sigmoid, not %s",
			   ae_activation_name(arch->output_act));
		return AE_ERR_CONFIG;
	}
	if (arch->code_layer < 0 || arch->code_layer >= k)
	{
		AE_ERR(errbuf, "code layer index %d is out of range; it must be between 0 and %d",
			   arch->code_layer, k - 1);
		return AE_ERR_CONFIG;
	}
	if (arch->tied)
	{
		/*
		 * Decoder layer L-1-l reuses W_lᵀ, so the widths must mirror around
		 * the code layer and the encoder and decoder must have as many
		 * layers: an odd number of hidden layers with the code in the middle.
		 */
		for (int i = 0; i < k / 2; i++)
			if (arch->hidden[i] != arch->hidden[k - 1 - i])
			{
				AE_ERR(errbuf, "tied weights need mirrored hidden widths, but hidden layer %d has width %d and hidden layer %d has width %d",
					   i + 1, arch->hidden[i], k - i, arch->hidden[k - 1 - i]);
				return AE_ERR_CONFIG;
			}
		if (k % 2 == 0 || arch->code_layer != k / 2)
		{
			AE_ERR(errbuf, "tied weights need an odd number of hidden layers with the code in the middle one; %d hidden layers, code layer index %d",
				   k, arch->code_layer);
			return AE_ERR_CONFIG;
		}
	}
	return AE_OK;
}

int
ae_arch_widest(const AeArch *arch)
{
	int			w = arch->n_inputs;

	for (int i = 0; i < arch->n_hidden && i < AE_MAX_HIDDEN; i++)
		if (arch->hidden[i] > w)
			w = arch->hidden[i];
	return w;
}

size_t
ae_arch_param_count(const AeArch *arch)
{
	int			dims[AE_MAX_HIDDEN + 2];
	int			L = arch->n_hidden + 1;
	size_t		count = 0;

	dims[0] = arch->n_inputs;
	for (int i = 0; i < arch->n_hidden; i++)
		dims[i + 1] = arch->hidden[i];
	dims[L] = arch->n_inputs;
	for (int l = 0; l < L; l++)
	{
		if (!(arch->tied && l > arch->code_layer))
			count += (size_t) dims[l + 1] * dims[l];
		count += dims[l + 1];
	}
	return count;
}

/* ---------------------------------------------------------------- parameters */

AeStatus
ae_model_bind(AeModel *model, const AeArch *arch, float *params, char *errbuf)
{
	AeStatus	st = ae_arch_validate(arch, errbuf);
	int			L;
	long		off = 0;

	if (st != AE_OK)
		return st;
	memset(model, 0, sizeof(*model));
	model->arch = *arch;
	L = model->n_layers = arch->n_hidden + 1;
	model->dims[0] = arch->n_inputs;
	for (int i = 0; i < arch->n_hidden; i++)
	{
		model->dims[i + 1] = arch->hidden[i];
		model->act[i] = arch->hidden_act[i];
	}
	model->dims[L] = arch->n_inputs;
	model->act[L - 1] = arch->output_act;
	model->params = params;

	for (int l = 0; l < L; l++)
	{
		if (arch->tied && l > arch->code_layer)
		{
			/* the encoder twin comes earlier in the buffer, so it is bound already */
			int			twin = L - 1 - l;

			model->W_off[l] = -1;
			model->W[l] = model->W[twin];
			model->W_tied[l] = true;
		}
		else
		{
			model->W_off[l] = off;
			model->W[l] = params + off;
			off += (long) model->dims[l + 1] * model->dims[l];
		}
		model->b_off[l] = off;
		model->b[l] = params + off;
		off += model->dims[l + 1];
	}
	model->n_params = (size_t) off;
	return AE_OK;
}

void
ae_model_init_weights(AeModel *model, uint64_t seed)
{
	AeRng		rng;

	ae_rng_seed(&rng, seed);
	/* layer by layer, W row-major: this order is part of "same seed, same model" */
	for (int l = 0; l < model->n_layers; l++)
	{
		int			fan_in = model->dims[l];
		int			fan_out = model->dims[l + 1];
		size_t		nw = (size_t) fan_in * fan_out;
		double		bound;

		if (!model->W_tied[l])
		{
			switch (model->act[l])
			{
				case AE_ACT_RELU:
				case AE_ACT_LEAKY_RELU:
				case AE_ACT_ELU:
					/* He: keeps the variance of a half-rectified signal */
					bound = sqrt(6.0 / fan_in);
					break;
				default:
					/* Glorot: balances forward and backward variance */
					bound = sqrt(6.0 / (fan_in + fan_out));
					break;
			}
			for (size_t i = 0; i < nw; i++)
				model->W[l][i] = (float) ((2.0 * ae_rng_uniform(&rng) - 1.0) * bound);
		}
		memset(model->b[l], 0, sizeof(float) * fan_out);
	}
}

/* ---------------------------------------------------------------- one layer: forward / backward */

/*
 * Weight layer l on a batch, forward: out = f(in Wᵀ + b), one GEMM then one
 * fused bias + activation pass.  A tied decoder layer's weight is its
 * twin's W transposed, so the product is in W instead of in Wᵀ.
 */
void
ae_layer_forward(const AeModel *model, int l, const float *in, int B, float *out)
{
	/* in: (B, I), out: (B, O), W: (O, I) or tied (I, O), b: (O);  I = dims[l], O = dims[l+1] */
	int			n_in = model->dims[l];
	int			n_out = model->dims[l + 1];

	if (l == 0 && model->groups)
		ae_groups_first_forward(model->groups, model->W[0], in, B, n_in, n_out, out);
	else if (model->W_tied[l])
		ae_gemm(false, false, B, n_out, n_in, 1.0f, in, n_in, model->W[l], n_out,
				0.0f, out, n_out);
	else
		ae_gemm(false, true, B, n_out, n_in, 1.0f, in, n_in, model->W[l], n_in,
				0.0f, out, n_out);
	ae_act_forward(model->act[l], out, model->b[l], B, n_out);
}

/* d (B×n) += extra (B×n) and db (n) += its column sums */
static void
AddWithColumnSums(float *d, const float *extra, float *db, int B, int n)
{
	for (int b = 0; b < B; b++)
	{
		float	   *dr = d + (size_t) b * n;
		const float *er = extra + (size_t) b * n;
		int			j = 0;

		for (; j + 4 <= n; j += 4)
		{
			AeVf4		e = AeLoad4(er + j);

			AeStore4(dr + j, AeLoad4(dr + j) + e);
			AeStore4(db + j, AeLoad4(db + j) + e);
		}
		for (; j < n; j++)
		{
			dr[j] += er[j];
			db[j] += er[j];
		}
	}
}

/*
 * Weight layer l on a batch, backward.  dout holds ∂loss/∂out on entry and
 * ∂loss/∂z (z = in Wᵀ + b) on return: the activation's derivative comes
 * from out itself (ae_act.h), so forward needs to keep nothing else.
 * dz_extra, when not NULL, is a further ∂loss/∂z (the contractive
 * penalty's) added after that step.  The layer's dW and db accumulate (+=)
 * into grad at the layer's offsets — a tied layer's dW into its encoder
 * twin's — and din, when not NULL, receives ∂loss/∂in (overwritten).
 */
void
ae_layer_backward(const AeModel *model, int l, const float *in, const float *out, int B,
				  float *dout, const float *dz_extra, float *grad, float *din)
{
	/* in, din: (B, I), out, dout, dz_extra: (B, O), dW: (O, I) or tied (I, O), db: (O) */
	int			L = model->n_layers;
	int			n_in = model->dims[l];
	int			n_out = model->dims[l + 1];
	float	   *dW = grad + (model->W_tied[l] ? model->W_off[L - 1 - l] : model->W_off[l]);
	float	   *db = grad + model->b_off[l];

	/* dz = dout ⊙ f'(z), in place;  db += Σ_b dz */
	ae_act_backward(model->act[l], dout, out, db, B, n_out);
	if (dz_extra)
		AddWithColumnSums(dout, dz_extra, db, B, n_out);
	/* dW (O, I) += dzᵀ in;  tied: dW_twin (I, O) += inᵀ dz */
	if (l == 0 && model->groups)
		ae_groups_first_backward(model->groups, dout, in, B, n_in, n_out, dW);
	else if (model->W_tied[l])
		ae_gemm(true, false, n_in, n_out, B, 1.0f, in, n_in, dout, n_out, 1.0f, dW, n_out);
	else
		ae_gemm(true, false, n_out, n_in, B, 1.0f, dout, n_out, in, n_in, 1.0f, dW, n_in);
	/* din (B, I) = dz W, or dz Wᵀ through a tied layer */
	if (din)
	{
		if (model->W_tied[l])
			ae_gemm(false, true, B, n_in, n_out, 1.0f, dout, n_out, model->W[l], n_out,
					0.0f, din, n_in);
		else
			ae_gemm(false, false, B, n_in, n_out, 1.0f, dout, n_out, model->W[l], n_in,
					0.0f, din, n_in);
	}
}

size_t
ae_forward_scratch_size(const AeModel *model, int B)
{
	/* two ping-pong buffers wide enough for any layer */
	return 2 * (size_t) B * ae_arch_widest(&model->arch);
}

void
ae_forward_range(const AeModel *model, int from, int to,
				 const float *in, int B, float *out, float *scratch)
{
	/* in: (B, dims[from]), out: (B, dims[to]) */
	const float *cur = in;
	size_t		half = ae_forward_scratch_size(model, B) / 2;

	for (int l = from; l < to; l++)
	{
		float	   *dst = l == to - 1 ? out : scratch + ((l - from) % 2) * half;

		ae_layer_forward(model, l, cur, B, dst);
		cur = dst;
	}
}

void
ae_feature_sqerr(const AeModel *model, const float *x, int B, float *err, float *scratch)
{
	/* x, err: (B, d) */
	size_t		n = (size_t) B * model->dims[0];

	ae_forward_range(model, 0, model->n_layers, x, B, err, scratch);
	for (size_t i = 0; i < n; i++)
	{
		float		e = err[i] - x[i];

		err[i] = e * e;
	}
}

void
ae_row_errors(const AeModel *model, const float *x, int B, float *errors, float *sq, float *scratch)
{
	int			d = model->dims[0];

	if (model->groups)
	{
		ae_forward_range(model, 0, model->n_layers, x, B, sq, scratch);
		ae_groups_row_errors(model->groups, model->arch.output_act, sq, x, B, d, errors);
		return;
	}
	/* ae_feature_sqerr's squares, summed as they are made: the same numbers, one pass less */
	ae_forward_range(model, 0, model->n_layers, x, B, sq, scratch);
	for (int b = 0; b < B; b++)
	{
		const float *y = sq + (size_t) b * d;
		const float *xr = x + (size_t) b * d;
		double		sum = 0;

		for (int j = 0; j < d; j++)
		{
			float		e = y[j] - xr[j];

			sum += e * e;
		}
		errors[b] = (float) (sum / d);
	}
}
