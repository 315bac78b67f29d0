/*
 * ae_objective.c — the training objective of one batch: its options
 * (defaults, validation) and ae_loss_grad, which runs the network forward,
 * evaluates the reconstruction loss and the regularisers (ae_loss.c, and
 * the contractive penalty, ae_contractive.c), and runs the layers'
 * backward passes (ae_layer_backward, ae_nn.c) into the gradient over the
 * flat parameter vector.
 *
 * Shape legend: B rows, d input width, L weight layers, C code layer,
 * h code width, dims[l] → dims[l+1] the widths of weight layer l.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ae_defaults.h"
#include "ae_groups.h"
#include "ae_nn_int.h"

void
ae_objective_defaults(AeObjective *obj)
{
	memset(obj, 0, sizeof(*obj));
	obj->loss = AE_DEFAULT_LOSS;
	obj->l1_activity = 0.0f;
	obj->sparsity_weight = 0.0f;
	obj->sparsity_target = (float) AE_DEFAULT_SPARSITY_TARGET;
	obj->contractive = 0.0f;
	obj->contractive_samples = 0;
	obj->noise = AE_DEFAULT_NOISE;
	obj->noise_level = (float) AE_DEFAULT_NOISE_LEVEL;
}

static inline bool
NonNegative(float v)
{
	return isfinite(v) && v >= 0.0f;
}

static inline bool
OpenUnit(float v)
{
	return isfinite(v) && v > 0.0f && v < 1.0f;
}

AeStatus
ae_objective_validate(const AeObjective *obj, const AeModel *model, char *errbuf)
{
	AeActivation code_act = model->act[model->arch.code_layer];

	if (obj->loss != AE_LOSS_MSE && obj->loss != AE_LOSS_BCE)
	{
		AE_ERR(errbuf, "unknown loss (%d)", (int) obj->loss);
		return AE_ERR_CONFIG;
	}
	if (obj->loss == AE_LOSS_BCE && model->arch.output_act != AE_ACT_SIGMOID)
	{
		AE_ERR(errbuf, "loss bce requires a sigmoid output activation; the output activation is %s",
			   ae_activation_name(model->arch.output_act));
		return AE_ERR_CONFIG;
	}
	if (!NonNegative(obj->l1_activity))
	{
		AE_ERR(errbuf, "l1_activity must be a finite number >= 0, not %g", (double) obj->l1_activity);
		return AE_ERR_CONFIG;
	}
	if (!NonNegative(obj->sparsity_weight))
	{
		AE_ERR(errbuf, "sparsity_weight must be a finite number >= 0, not %g", (double) obj->sparsity_weight);
		return AE_ERR_CONFIG;
	}
	if (!OpenUnit(obj->sparsity_target))
	{
		AE_ERR(errbuf, "sparsity_target must be between 0 and 1 (exclusive), not %g",
			   (double) obj->sparsity_target);
		return AE_ERR_CONFIG;
	}
	if (obj->sparsity_weight > 0.0f && code_act != AE_ACT_SIGMOID)
	{
		/* ρ̂ must be a mean firing rate in (0, 1) for the KL divergence to exist */
		AE_ERR(errbuf, "sparsity_weight requires a sigmoid code layer; the code layer (hidden layer %d) uses %s",
			   model->arch.code_layer + 1, ae_activation_name(code_act));
		return AE_ERR_CONFIG;
	}
	if (!NonNegative(obj->contractive))
	{
		AE_ERR(errbuf, "contractive must be a finite number >= 0, not %g", (double) obj->contractive);
		return AE_ERR_CONFIG;
	}
	if (obj->contractive_samples < 0 || obj->contractive_samples > AE_MAX_CONTRACTIVE_SAMPLES)
	{
		AE_ERR(errbuf, "contractive_samples must be between 0 and %d, not %d",
			   AE_MAX_CONTRACTIVE_SAMPLES, obj->contractive_samples);
		return AE_ERR_CONFIG;
	}
	if (obj->noise != AE_NOISE_NONE && obj->noise != AE_NOISE_GAUSSIAN && obj->noise != AE_NOISE_MASK)
	{
		AE_ERR(errbuf, "unknown noise type (%d)", (int) obj->noise);
		return AE_ERR_CONFIG;
	}
	if (obj->noise != AE_NOISE_NONE && !OpenUnit(obj->noise_level))
	{
		AE_ERR(errbuf, "noise_level must be between 0 and 1 (exclusive), not %g",
			   (double) obj->noise_level);
		return AE_ERR_CONFIG;
	}
	return AE_OK;
}

/* ---------------------------------------------------------------- batch objective */

/*
 * The backward pass through weight layers from down to to (from ≥ to),
 * output to input: dcur holds ∂loss/∂a_from on entry; each layer's backward
 * leaves ∂loss/∂a_{l-1} in the other buffer, which is returned (NULL after
 * layer 0).  Gradients accumulate into grad, so that a tied W collects both
 * its encoder and its decoder use.
 */
static float *
Backward(const AeModel *model, AeWorkspace *ws, const AeObjective *obj, const float *x_in,
		 int B, float *grad, float *dcur, int from, int to)
{
	int			C = model->arch.code_layer;
	int			h = model->dims[C + 1];
	bool		sparse = obj->l1_activity > 0.0f || obj->sparsity_weight > 0.0f;

	for (int l = from; l >= to; l--)
	{
		float	   *dnext = l == 0 ? NULL : dcur == ws->delta[0] ? ws->delta[1] : ws->delta[0];

		/* the sparsity terms are functions of a_C: their ∂/∂a joins before f' */
		if (l == C && sparse)
			ae_code_penalty_backward(dcur, ws->act[C], B, h, obj->l1_activity / B,
									 obj->sparsity_weight > 0.0f ? ws->kl_grad : NULL);
		/* the contractive penalty depends on z_l (l ≤ C) through f'(z_l) */
		ae_layer_backward(model, l, l == 0 ? x_in : ws->act[l - 1], ws->act[l], B, dcur,
						  l <= C && obj->contractive > 0.0f ? ws->c_extra[l] : NULL,
						  grad, dnext);
		dcur = dnext;
	}
	return dcur;
}

/*
 * Forward the batch, evaluate every loss part, and when grad is not NULL
 * run the backward pass into it, down to weight layer stop (0: all of it;
 * the rest is left for ae_loss_grad_finish).  code_mean (NULL: the batch's
 * own) is the ρ̂ of the KL penalty; encoded: ws holds the encoder's
 * activations of these rows already (ae_code_sums), the forward pass
 * starts after them.
 */
static AeStatus
LossAndGrad(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			const float *x_in, const float *x_target, int B, const double *code_mean,
			bool encoded, float *grad, AeLossParts *parts, AeRng *rng, int stop)
{
	int			L = model->n_layers;
	int			C = model->arch.code_layer;
	int			d = model->dims[0];
	int			h = model->dims[C + 1];
	float	   *dcur;
	AeLossParts lp = {0};

	ws->bw_next = -1;
	if (B < 1 || B > ws->max_batch || stop < 0 || stop >= L)
		return AE_ERR_CONFIG;
	if (obj->contractive > 0.0f &&
		(!ws->has_contractive || ws->c_samples != obj->contractive_samples ||
		 (rng == NULL && C > 0 && obj->contractive_samples > 0)))
		return AE_ERR_CONFIG;

	/* forward: act[l] (B, dims[l+1]) = f_l(act[l-1] W_lᵀ + b_l), act[-1] = x_in */
	for (int l = encoded ? C + 1 : 0; l < L; l++)
		ae_layer_forward(model, l, l == 0 ? x_in : ws->act[l - 1], B, ws->act[l]);

	/* loss parts; ∂recon/∂x̂ (B, d) goes straight into the first delta buffer */
	dcur = ws->delta[0];
	if (model->groups)
		lp.recon = ae_groups_recon_loss(model->groups, obj->loss, model->arch.output_act,
										ws->act[L - 1], x_target, B, d, grad ? dcur : NULL);
	else
		lp.recon = ae_recon_loss(obj->loss, ws->act[L - 1], x_target, (size_t) B * d, grad ? dcur : NULL);
	if (obj->l1_activity > 0.0f)
		lp.l1 = ae_l1_penalty(obj->l1_activity, ws->act[C], (size_t) B * h, B);
	if (obj->sparsity_weight > 0.0f)
		lp.kl = ae_kl_penalty(obj->sparsity_weight, obj->sparsity_target, ws->act[C], B, h,
							  code_mean, grad ? ws->kl_grad : NULL);
	if (grad)
		memset(grad, 0, model->n_params * sizeof(float));
	if (obj->contractive > 0.0f)
		lp.contractive = ae_contractive(model, ws, obj, x_in, B, grad, rng);
	lp.total = lp.recon + lp.l1 + lp.kl + lp.contractive;
	if (parts)
		*parts = lp;
	if (!isfinite(lp.total))
		return AE_ERR_NONFINITE;
	if (grad == NULL)
		return AE_OK;
	dcur = Backward(model, ws, obj, x_in, B, grad, dcur, L - 1, stop);
	if (stop > 0)
	{
		ws->bw_next = stop - 1;
		ws->bw_B = B;
		ws->bw_x_in = x_in;
		ws->bw_dcur = dcur;
	}
	return AE_OK;
}

AeStatus
ae_loss_grad(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			 const float *x_in, const float *x_target, int B,
			 float *grad, AeLossParts *parts, AeRng *rng)
{
	return LossAndGrad(model, ws, obj, x_in, x_target, B, NULL, false, grad, parts, rng, 0);
}

AeStatus
ae_loss_grad_part(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
				  const float *x_in, const float *x_target, int B, const double *code_mean,
				  bool encoded, float *grad, AeLossParts *parts, AeRng *rng)
{
	return LossAndGrad(model, ws, obj, x_in, x_target, B, code_mean, encoded, grad, parts, rng, 0);
}

AeStatus
ae_loss_grad_begin(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
				   const float *x_in, const float *x_target, int B, const double *code_mean,
				   bool encoded, float *grad, AeLossParts *parts, int split)
{
	if (split < 1)
	{
		ws->bw_next = -1;
		return AE_ERR_CONFIG;
	}
	return LossAndGrad(model, ws, obj, x_in, x_target, B, code_mean, encoded, grad, parts, NULL,
					   split);
}

AeStatus
ae_loss_grad_finish(const AeModel *model, AeWorkspace *ws, const AeObjective *obj, float *grad)
{
	int			from = ws->bw_next;

	if (from < 0 || from >= model->n_layers)
		return AE_ERR_CONFIG;
	ws->bw_next = -1;
	(void) Backward(model, ws, obj, ws->bw_x_in, ws->bw_B, grad, ws->bw_dcur, from, 0);
	return AE_OK;
}

size_t
ae_grad_final_from(const AeModel *model, int layer)
{
	size_t		off = model->n_params;

	/* a layer's own parameters: its bias, and its W unless it is a tied decoder's */
	for (int l = layer < 0 ? 0 : layer; l < model->n_layers; l++)
	{
		if (model->W_off[l] >= 0 && (size_t) model->W_off[l] < off)
			off = (size_t) model->W_off[l];
		if ((size_t) model->b_off[l] < off)
			off = (size_t) model->b_off[l];
	}
	return off;
}

AeStatus
ae_code_sums(const AeModel *model, AeWorkspace *ws, const float *x_in, int B, double *sums)
{
	int			C = model->arch.code_layer;
	int			h = model->dims[C + 1];

	if (B < 0 || B > ws->max_batch)
		return AE_ERR_CONFIG;
	for (int j = 0; j < h; j++)
		sums[j] = 0.0;
	if (B == 0)
		return AE_OK;
	/* the encoder alone, as LossAndGrad's forward runs it: the same activations */
	for (int l = 0; l <= C; l++)
		ae_layer_forward(model, l, l == 0 ? x_in : ws->act[l - 1], B, ws->act[l]);
	/* in row order, as ae_kl_penalty sums a batch of its own */
	for (int b = 0; b < B; b++)
		for (int j = 0; j < h; j++)
			sums[j] += ws->act[C][(size_t) b * h + j];
	return AE_OK;
}

AeStatus
ae_loss_only(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			 const float *x_in, const float *x_target, int B,
			 AeLossParts *parts, AeRng *rng)
{
	return LossAndGrad(model, ws, obj, x_in, x_target, B, NULL, false, NULL, parts, rng, 0);
}
