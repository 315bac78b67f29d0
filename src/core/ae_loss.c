/*
 * ae_loss.c — the training objective of one batch: forward pass, the
 * reconstruction loss, the sparsity regularisers on the code layer (L1
 * activity, KL divergence), the contractive penalty (ae_contractive.c), and
 * the backward pass that turns them into a gradient over the flat
 * parameter vector.  Also the workspace and the denoising corruption.
 *
 * Every formula is the one PyTorch computes, so that a reference script
 * written with torch.nn gets the same numbers:
 *   mse   nn.MSELoss()                         mean of (x̂ - x)² over B·d
 *   bce   nn.BCELoss() on a sigmoid output     mean of -(x log x̂ + (1-x) log(1-x̂)),
 *                                              each log clamped at -100
 *   l1    λ · (1/B) Σ_b Σ_j |a_bj|             code activations a; ∂|a| = sign(a), 0 at 0
 *   kl    β · Σ_j ρ log(ρ/ρ̂_j) + (1-ρ) log((1-ρ)/(1-ρ̂_j)),
 *         ρ̂_j = clamp((1/B) Σ_b a_bj, 1e-7, 1 - 1e-7)
 *         (the clamp keeps the logs finite when a whole batch saturates a
 *         unit; like torch.clamp, no gradient flows through a clamped ρ̂_j)
 *
 * Shape legend: B rows, d input width, L weight layers, C code layer,
 * dims[l] → dims[l+1] the widths of weight layer l.
 */
#include "ae_nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ae_act.h"
#include "ae_blas.h"
#include "ae_nn_int.h"
#include "ae_defaults.h"
#include "ae_simd.h"

#define AE_KL_CLAMP		1e-7	/* ρ̂ is kept in [AE_KL_CLAMP, 1 - AE_KL_CLAMP] */
#define AE_BCE_LOG_MIN	-100.0	/* torch's clamp of log(x̂) and log(1-x̂) */
#define AE_BCE_EPS		1e-12f	/* torch's floor of x̂(1-x̂) in the BCE gradient */

#define AE_ERR(errbuf, ...) \
	do { if (errbuf) snprintf((errbuf), AE_ERRBUF_SIZE, __VA_ARGS__); } while (0)

/* ---------------------------------------------------------------- objective */

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
	if (obj->contractive_samples < 0 || obj->contractive_samples > AE_MAX_WIDTH)
	{
		AE_ERR(errbuf, "contractive_samples must be between 0 and %d, not %d",
			   AE_MAX_WIDTH, obj->contractive_samples);
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

/* ---------------------------------------------------------------- workspace */

/* 64-byte aligned sub-buffers keep every row block on its own cache lines */
#define AE_ALIGN_FLOATS 16

static float *
Carve(float **cursor, size_t n)
{
	float	   *p = *cursor;

	*cursor += (n + AE_ALIGN_FLOATS - 1) / AE_ALIGN_FLOATS * AE_ALIGN_FLOATS;
	return p;
}

/* Lays out the forward/backward buffers from base (NULL: only count). */
static size_t
Layout(const AeModel *model, int max_batch, AeWorkspace *ws, float *base)
{
	float	   *cur = base;
	int			widest = 0;

	for (int l = 0; l < model->n_layers; l++)
	{
		float	   *p = Carve(&cur, (size_t) max_batch * model->dims[l + 1]);

		if (base)
			ws->act[l] = p;
		if (model->dims[l + 1] > widest)
			widest = model->dims[l + 1];
	}
	for (int i = 0; i < 2; i++)
	{
		float	   *p = Carve(&cur, (size_t) max_batch * widest);

		if (base)
			ws->delta[i] = p;
	}
	{
		float	   *p = Carve(&cur, ae_code_width(model));

		if (base)
			ws->kl_grad = p;
	}
	return (size_t) (cur - base);
}

AeWorkspace *
ae_workspace_create(const AeModel *model, const AeObjective *obj, int max_batch,
					const AeAllocator *al)
{
	AeWorkspace *ws;
	bool		contractive = obj && obj->contractive > 0.0f;
	int			samples = obj ? obj->contractive_samples : 0;
	size_t		n_main,
				n_contr = 0,
				bytes;
	char	   *raw;
	float	   *base;

	if (max_batch < 1)
		return NULL;
	n_main = Layout(model, max_batch, NULL, NULL);
	if (contractive)
		n_contr = ae_contractive_layout(model, samples, max_batch, NULL, NULL);
	bytes = sizeof(AeWorkspace) + 64 + (n_main + n_contr) * sizeof(float);
	raw = ae_alloc(al, bytes);
	if (raw == NULL)
		return NULL;
	ws = (AeWorkspace *) raw;
	memset(ws, 0, sizeof(*ws));
	ws->block = raw;
	ws->max_batch = max_batch;
	base = (float *) (((uintptr_t) (raw + sizeof(AeWorkspace)) + 63) & ~(uintptr_t) 63);
	Layout(model, max_batch, ws, base);
	if (contractive)
	{
		ws->has_contractive = true;
		ws->c_samples = samples;
		ae_contractive_layout(model, samples, max_batch, ws, base + n_main);
	}
	return ws;
}

void
ae_workspace_destroy(AeWorkspace *ws, const AeAllocator *al)
{
	if (ws)
		ae_free(al, ws->block);
}

/* ---------------------------------------------------------------- corruption */

void
ae_corrupt(const AeObjective *obj, AeRng *rng, const float *in, float *out, size_t n)
{
	/* draws in index order, so a seed fixes the corruption */
	float		level = obj->noise_level;

	switch (obj->noise)
	{
		case AE_NOISE_NONE:
			if (out != in)
				memmove(out, in, n * sizeof(float));
			break;
		case AE_NOISE_GAUSSIAN:
			{
				/* in chunks through a stack buffer: in and out may be one array */
				float		z[256];

				for (size_t i = 0; i < n; i += 256)
				{
					size_t		m = n - i < 256 ? n - i : 256;

					ae_rng_normal_floats(rng, z, m);
					for (size_t k = 0; k < m; k++)
						out[i + k] = in[i + k] + level * z[k];
				}
			}
			break;
		case AE_NOISE_MASK:
			{
				/*
				 * Element 2i takes the high 32 bits of draw i, 2i+1 the low
				 * ones; it is zeroed when they are below level·2³².  The
				 * select is done on the bits, without a branch: the outcome
				 * is random, so a branch would be mispredicted half the time.
				 */
				uint32_t	threshold = (uint32_t) fmin((double) level * 4294967296.0, 4294967295.0);

				for (size_t i = 0; i < n; i += 2)
				{
					uint64_t	bits = ae_rng_next(rng);

					for (size_t k = i; k < i + 2 && k < n; k++)
					{
						uint32_t	u = k == i ? (uint32_t) (bits >> 32) : (uint32_t) bits;
						uint32_t	keep = (uint32_t) 0 - (uint32_t) (u >= threshold);
						uint32_t	v;

						memcpy(&v, in + k, sizeof(v));
						v &= keep;
						memcpy(out + k, &v, sizeof(v));
					}
				}
			}
			break;
	}
}

/* ---------------------------------------------------------------- losses */

/*
 * Reconstruction loss of xhat against x (n = B·d floats each), and when
 * dxhat is not NULL, ∂loss/∂x̂ written into it in the same pass.
 */
static double
ReconLoss(AeLoss loss, const float *xhat, const float *x, size_t n, float *dxhat)
{
	double		sum = 0.0;

	if (loss == AE_LOSS_MSE)
	{
		/*
		 * Squares summed four lanes at a time in float over blocks of 16
		 * elements, then in double: a short float run keeps the rounding
		 * error near one ulp, and the double adds no longer form one long
		 * dependency chain through the whole batch.
		 */
		float		scale = (float) (2.0 / (double) n);
		AeVf		vscale = VF(scale);
		size_t		i = 0;

		for (; i + 4 * AE_VL <= n; i += 4 * AE_VL)
		{
			AeVf		acc = VF(0.0f);

			for (int k = 0; k < 4; k++)
			{
				AeVf		e = LoadV(xhat + i + k * AE_VL) - LoadV(x + i + k * AE_VL);

				acc += e * e;
				if (dxhat)
					StoreV(dxhat + i + k * AE_VL, vscale * e);
			}
			sum += SumV(acc);
		}
		for (; i < n; i++)
		{
			float		e = xhat[i] - x[i];

			sum += (double) e * e;
			if (dxhat)
				dxhat[i] = scale * e;
		}
	}
	else
	{
		float		inv_n = (float) (1.0 / (double) n);

		for (size_t i = 0; i < n; i++)
		{
			double		p = xhat[i];
			double		y = x[i];
			double		lp = fmax(log(p), AE_BCE_LOG_MIN);
			double		lq = fmax(log1p(-p), AE_BCE_LOG_MIN);

			sum -= y * lp + (1.0 - y) * lq;
			if (dxhat)
			{
				/* torch divides by max(x̂(1-x̂), 1e-12): a saturated x̂ gets gradient 0 after the sigmoid */
				float		pf = xhat[i];
				float		pq = (1.0f - pf) * pf;

				dxhat[i] = inv_n * (pf - x[i]) / (pq > AE_BCE_EPS ? pq : AE_BCE_EPS);
			}
		}
	}
	return sum / (double) n;
}

/* λ·(1/B)Σ|a| over the code activations a (B×h). */
static double
L1Penalty(float lambda, const float *a, size_t n, int B)
{
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += fabsf(a[i]);
	return lambda * sum / B;
}

/*
 * β·Σ_j KL(ρ‖ρ̂_j) of the code activations a (B×h); fills kl_grad (h) with
 * ∂KL/∂a_bj, which does not depend on b.
 */
static double
KLPenalty(float beta, float rho_f, const float *a, int B, int h, float *kl_grad)
{
	double		rho = rho_f;
	double		total = 0.0;

	for (int j = 0; j < h; j++)
	{
		double		mean = 0.0;
		double		rho_hat;
		bool		clamped = false;

		for (int b = 0; b < B; b++)
			mean += a[(size_t) b * h + j];
		rho_hat = mean / B;
		if (rho_hat < AE_KL_CLAMP)
		{
			rho_hat = AE_KL_CLAMP;
			clamped = true;
		}
		else if (rho_hat > 1.0 - AE_KL_CLAMP)
		{
			rho_hat = 1.0 - AE_KL_CLAMP;
			clamped = true;
		}
		total += rho * log(rho / rho_hat) + (1.0 - rho) * log((1.0 - rho) / (1.0 - rho_hat));
		if (kl_grad)
			kl_grad[j] = clamped ? 0.0f :
				(float) (beta * (-rho / rho_hat + (1.0 - rho) / (1.0 - rho_hat)) / B);
	}
	return beta * total;
}

/* ---------------------------------------------------------------- code-layer gradients */

/*
 * d (B×h) += ∂(l1 + kl)/∂a at the code layer: l1_scale·sign(a) (sign(0) =
 * 0, as torch.abs's gradient) and kl_grad[j] (the same for every row);
 * l1_scale 0 or kl_grad NULL leave that term out.  Branch-free: the signs
 * of activations are as good as random.
 */
static void
AddCodeGrad(float *d, const float *a, int B, int h, float l1_scale, const float *kl_grad)
{
	AeVf		s = VF(l1_scale);

	for (int b = 0; b < B; b++)
	{
		float	   *dr = d + (size_t) b * h;
		const float *ar = a + (size_t) b * h;
		int			j = 0;

		for (; j + AE_VL <= h; j += AE_VL)
		{
			AeVf		av = LoadV(ar + j);
			AeVf		g = LoadV(dr + j);

			if (l1_scale != 0.0f)
				g += SelectV(av > VF(0.0f), s, VF(0.0f)) - SelectV(av < VF(0.0f), s, VF(0.0f));
			if (kl_grad)
				g += LoadV(kl_grad + j);
			StoreV(dr + j, g);
		}
		for (; j < h; j++)
		{
			if (l1_scale != 0.0f)
				dr[j] += (float) (ar[j] > 0.0f) * l1_scale - (float) (ar[j] < 0.0f) * l1_scale;
			if (kl_grad)
				dr[j] += kl_grad[j];
		}
	}
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

		for (; j + AE_VL <= n; j += AE_VL)
		{
			AeVf		e = LoadV(er + j);

			StoreV(dr + j, LoadV(dr + j) + e);
			StoreV(db + j, LoadV(db + j) + e);
		}
		for (; j < n; j++)
		{
			dr[j] += er[j];
			db[j] += er[j];
		}
	}
}

/* ---------------------------------------------------------------- batch objective */

/*
 * Forward the batch, evaluate every loss part, and when grad is not NULL
 * run the backward pass into it.
 */
static AeStatus
LossAndGrad(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			const float *x_in, const float *x_target, int B,
			float *grad, AeLossParts *parts, AeRng *rng)
{
	int			L = model->n_layers;
	int			C = model->arch.code_layer;
	int			d = model->dims[0];
	int			h = model->dims[C + 1];
	size_t		n_out = (size_t) B * d;
	float	   *dcur;
	AeLossParts lp = {0};

	if (B < 1 || B > ws->max_batch)
		return AE_ERR_CONFIG;
	if (obj->contractive > 0.0f &&
		(!ws->has_contractive || ws->c_samples != obj->contractive_samples ||
		 (rng == NULL && C > 0 && obj->contractive_samples > 0)))
		return AE_ERR_CONFIG;

	/* forward: act[l] = f_l(act[l-1] W_lᵀ + b_l) */
	for (int l = 0; l < L; l++)
		ae_layer_forward(model, l, l == 0 ? x_in : ws->act[l - 1], B, ws->act[l]);

	/* loss parts; ∂recon/∂x̂ goes straight into the first delta buffer */
	dcur = ws->delta[0];
	lp.recon = ReconLoss(obj->loss, ws->act[L - 1], x_target, n_out, grad ? dcur : NULL);
	if (obj->l1_activity > 0.0f)
		lp.l1 = L1Penalty(obj->l1_activity, ws->act[C], (size_t) B * h, B);
	if (obj->sparsity_weight > 0.0f)
		lp.kl = KLPenalty(obj->sparsity_weight, obj->sparsity_target, ws->act[C], B, h,
						  grad ? ws->kl_grad : NULL);
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

	/*
	 * backward, output to input.  dcur holds ∂loss/∂a_l on entry to layer l
	 * and ∂loss/∂z_l after the activation step; weight and bias gradients
	 * accumulate (+=) into grad, zeroed above, so that a tied W collects
	 * both its encoder and its decoder use.
	 */
	for (int l = L - 1; l >= 0; l--)
	{
		int			n_in = model->dims[l];
		int			n_o = model->dims[l + 1];
		const float *a_in = l == 0 ? x_in : ws->act[l - 1];
		float	   *dW = grad + (model->W_tied[l] ? model->W_off[L - 1 - l] : model->W_off[l]);
		float	   *db = grad + model->b_off[l];

		if (l == C && (obj->l1_activity > 0.0f || obj->sparsity_weight > 0.0f))
		{
			/* the sparsity terms are functions of a_C: add their ∂/∂a before f' */
			AddCodeGrad(dcur, ws->act[C], B, h, obj->l1_activity / B,
						obj->sparsity_weight > 0.0f ? ws->kl_grad : NULL);
		}
		/* dcur: (B, n_o) ∂/∂a → ∂/∂z;  db += column sums */
		ae_act_backward(model->act[l], dcur, ws->act[l], db, B, n_o);
		if (l <= C && obj->contractive > 0.0f)
		{
			/* the contractive penalty depends on z_l through f'(z_l) */
			AddWithColumnSums(dcur, ws->c_extra[l], db, B, n_o);
		}
		/* dW (n_o, n_in) += dcurᵀ a_in;  tied: dW_twin (n_in, n_o) += a_inᵀ dcur */
		if (model->W_tied[l])
			ae_gemm(true, false, n_in, n_o, B, 1.0f, a_in, n_in, dcur, n_o, 1.0f, dW, n_o);
		else
			ae_gemm(true, false, n_o, n_in, B, 1.0f, dcur, n_o, a_in, n_in, 1.0f, dW, n_in);
		if (l > 0)
		{
			/* dnext (B, n_in) = dcur W, or dcur Wᵀ through a tied layer */
			float	   *dnext = dcur == ws->delta[0] ? ws->delta[1] : ws->delta[0];

			if (model->W_tied[l])
				ae_gemm(false, true, B, n_in, n_o, 1.0f, dcur, n_o, model->W[l], n_o,
						0.0f, dnext, n_in);
			else
				ae_gemm(false, false, B, n_in, n_o, 1.0f, dcur, n_o, model->W[l], n_in,
						0.0f, dnext, n_in);
			dcur = dnext;
		}
	}
	return AE_OK;
}

AeStatus
ae_loss_grad(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			 const float *x_in, const float *x_target, int B,
			 float *grad, AeLossParts *parts, AeRng *rng)
{
	return LossAndGrad(model, ws, obj, x_in, x_target, B, grad, parts, rng);
}

AeStatus
ae_loss_only(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			 const float *x_in, const float *x_target, int B,
			 AeLossParts *parts, AeRng *rng)
{
	return LossAndGrad(model, ws, obj, x_in, x_target, B, NULL, parts, rng);
}
