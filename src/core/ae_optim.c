/*
 * ae_optim.c — SGD, SGD with momentum (Nesterov optional), Adam and AdamW
 * over one flat parameter vector.
 *
 * The arithmetic follows torch.optim 1.13 (_single_tensor_sgd/_adam/_adamw)
 * operation by operation, and gradient clipping follows
 * torch.nn.utils.clip_grad_norm_, so a model trained here tracks one trained
 * by PyTorch from the same weights to float32 rounding.  Each kind is one
 * loop over the parameters: clipping scale, weight decay, moments and the
 * update are fused so the vector is read and written once per step.
 */
#include "ae_optim.h"

#include "ae_defaults.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ae_simd.h"

void
ae_optim_defaults(AeOptimConfig *cfg, AeOptimizerKind kind)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kind = kind;
	cfg->learning_rate = (float) AE_DEFAULT_LEARNING_RATE(kind);
	cfg->momentum = (float) AE_DEFAULT_MOMENTUM;
	cfg->nesterov = false;
	cfg->beta1 = (float) AE_DEFAULT_BETA1;
	cfg->beta2 = (float) AE_DEFAULT_BETA2;
	cfg->eps = (float) AE_DEFAULT_EPS;
	/* torch.optim.AdamW defaults to 1e-2; the coupled kinds to 0 */
	cfg->weight_decay = (float) AE_DEFAULT_WEIGHT_DECAY(kind);
	cfg->clip_norm = 0.0f;
	cfg->lr_decay = (float) AE_DEFAULT_LR_DECAY;
}

AeStatus
ae_optim_validate(const AeOptimConfig *cfg, char *errbuf)
{
#define AE_BAD(...) \
	do { snprintf(errbuf, AE_ERRBUF_SIZE, __VA_ARGS__); return AE_ERR_CONFIG; } while (0)

	if (cfg->kind < AE_OPT_SGD || cfg->kind > AE_OPT_ADAMW)
		AE_BAD("unknown optimizer kind %d", (int) cfg->kind);
	if (!(cfg->learning_rate > 0.0f) || !isfinite(cfg->learning_rate))
		AE_BAD("learning_rate must be a finite number greater than 0, got %g",
			   (double) cfg->learning_rate);
	if (!(cfg->momentum >= 0.0f && cfg->momentum < 1.0f))
		AE_BAD("momentum must be in [0, 1), got %g", (double) cfg->momentum);
	if (cfg->nesterov && cfg->kind != AE_OPT_MOMENTUM)
		AE_BAD("nesterov requires optimizer \"momentum\", not \"%s\"",
			   ae_optimizer_name(cfg->kind));
	if (cfg->nesterov && !(cfg->momentum > 0.0f))
		AE_BAD("nesterov requires a momentum greater than 0");
	if (!(cfg->beta1 >= 0.0f && cfg->beta1 < 1.0f))
		AE_BAD("beta1 must be in [0, 1), got %g", (double) cfg->beta1);
	if (!(cfg->beta2 >= 0.0f && cfg->beta2 < 1.0f))
		AE_BAD("beta2 must be in [0, 1), got %g", (double) cfg->beta2);
	/* eps = 0 would divide by zero for a parameter that never had a gradient */
	if (!(cfg->eps > 0.0f) || !isfinite(cfg->eps))
		AE_BAD("eps must be a finite number greater than 0, got %g", (double) cfg->eps);
	if (!(cfg->weight_decay >= 0.0f) || !isfinite(cfg->weight_decay))
		AE_BAD("weight_decay must be a finite number >= 0, got %g",
			   (double) cfg->weight_decay);
	if (!(cfg->clip_norm >= 0.0f) || !isfinite(cfg->clip_norm))
		AE_BAD("clip_norm must be a finite number >= 0 (0 disables clipping), got %g",
			   (double) cfg->clip_norm);
	if (!(cfg->lr_decay > 0.0f && cfg->lr_decay <= 1.0f))
		AE_BAD("lr_decay must be in (0, 1] (1 keeps the learning rate constant), got %g",
			   (double) cfg->lr_decay);
	return AE_OK;
#undef AE_BAD
}

AeStatus
ae_optim_create(AeOptimizer *opt, const AeOptimConfig *cfg, size_t n_params,
				const AeAllocator *al)
{
	bool		need_m = cfg->kind != AE_OPT_SGD;
	bool		need_v = cfg->kind == AE_OPT_ADAM || cfg->kind == AE_OPT_ADAMW;
	/* never ask the allocator for 0 bytes: some return NULL for it */
	size_t		bytes = (n_params > 0 ? n_params : 1) * sizeof(float);

	memset(opt, 0, sizeof(*opt));
	opt->cfg = *cfg;
	opt->n = n_params;
	opt->lr = cfg->learning_rate;
	opt->lr_exact = cfg->learning_rate;
	/* zeroed buffers make the first momentum step b = μ·0 + g = g, as torch's clone */
	if (need_m)
	{
		opt->m = ae_alloc(al, bytes);
		if (opt->m == NULL)
			return AE_ERR_NOMEM;
		memset(opt->m, 0, bytes);
	}
	if (need_v)
	{
		opt->v = ae_alloc(al, bytes);
		if (opt->v == NULL)
		{
			ae_optim_destroy(opt, al);
			return AE_ERR_NOMEM;
		}
		memset(opt->v, 0, bytes);
	}
	return AE_OK;
}

void
ae_optim_destroy(AeOptimizer *opt, const AeAllocator *al)
{
	ae_free(al, opt->m);
	ae_free(al, opt->v);
	opt->m = NULL;
	opt->v = NULL;
}

/*
 * The global L2 norm of g, summed in double so that it does not depend on
 * the order of a million small squares.
 */
static double
GradNorm(const float *g, size_t n)
{
	double		acc = 0.0;

	for (size_t i = 0; i < n; i++)
		acc += (double) g[i] * g[i];
	return sqrt(acc);
}

/*
 * Adam: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR
 * 2015, Algorithm 1, in PyTorch's arrangement (eps added after the
 * bias-corrected square root).  AdamW: Loshchilov & Hutter, "Decoupled
 * Weight Decay Regularization", ICLR 2019, Algorithm 2: the decay shrinks
 * the weights and never enters the moments.
 *
 * The vector loop performs the very same IEEE operations in the same order
 * as the scalar one (no reciprocal approximations, no fused multiply-add:
 * the baseline target has none to contract into), so both give
 * bit-identical parameters; it only does four at a time.  The
 * square root and the two divisions are most of the cost of a step.
 */
static void
AdamUpdate(const AeOptimStepConsts *k, float *restrict p, const float *restrict g,
		   float *restrict m, float *restrict v, size_t n)
{
	size_t		i = 0;

	const AeVf4 clip = AE_SPLAT(AeVf4, k->clip),
				cwd = AE_SPLAT(AeVf4, k->coupled_wd),
				shrink = AE_SPLAT(AeVf4, k->shrink),
				b1 = AE_SPLAT(AeVf4, k->b1),
				one_b1 = AE_SPLAT(AeVf4, k->one_b1),
				b2 = AE_SPLAT(AeVf4, k->b2),
				one_b2 = AE_SPLAT(AeVf4, k->one_b2),
				bc2_sqrt = AE_SPLAT(AeVf4, k->bc2_sqrt),
				eps = AE_SPLAT(AeVf4, k->eps),
				step_size = AE_SPLAT(AeVf4, k->step_size);

	for (; i + 4 <= n; i += 4)
	{
		AeVf4		gi = AeLoad4(g + i) * clip;
		AeVf4		pi = AeLoad4(p + i);
		AeVf4		mi,
					vi,
					denom;

		gi = gi + cwd * pi;
		pi = pi * shrink;
		mi = b1 * AeLoad4(m + i) + one_b1 * gi;
		vi = b2 * AeLoad4(v + i) + (one_b2 * gi) * gi;
		denom = AeSqrt4(vi) / bc2_sqrt + eps;
		pi = pi - step_size * (mi / denom);
		AeStore4(m + i, mi);
		AeStore4(v + i, vi);
		AeStore4(p + i, pi);
	}
	for (; i < n; i++)
	{
		float		gi = g[i] * k->clip;
		float		denom;

		gi += k->coupled_wd * p[i]; /* Adam: coupled L2, g += wd·p */
		p[i] *= k->shrink;		/* AdamW: p ← p·(1 − lr·wd) */
		m[i] = k->b1 * m[i] + k->one_b1 * gi;	/* m ← β1·m + (1−β1)·g */
		v[i] = k->b2 * v[i] + k->one_b2 * gi * gi;	/* v ← β2·v + (1−β2)·g² */
		denom = sqrtf(v[i]) / k->bc2_sqrt + k->eps; /* √v / √(1−β2ᵗ) + ε */
		p[i] -= k->step_size * (m[i] / denom);	/* p ← p − lr/(1−β1ᵗ) · m/denom */
	}
}

/*
 * The constants of one step with gradient scale clip (1: no clipping);
 * counts the step, which Adam's bias corrections depend on.
 */
static void
BeginStep(AeOptimizer *opt, float clip)
{
	const AeOptimConfig *c = &opt->cfg;
	AeOptimStepConsts *k = &opt->k;
	const float lr = opt->lr;
	const float wd = c->weight_decay;
	const bool	decoupled = c->kind == AE_OPT_ADAMW;

	opt->step++;
	memset(k, 0, sizeof(*k));
	k->clip = clip;
	if (c->kind == AE_OPT_ADAM || c->kind == AE_OPT_ADAMW)
	{
		/* bias corrections once per step, in double like torch's Python floats */
		const double bc1 = 1.0 - pow((double) c->beta1, (double) opt->step);
		const double bc2 = 1.0 - pow((double) c->beta2, (double) opt->step);

		k->coupled_wd = decoupled ? 0.0f : wd;
		k->shrink = decoupled ? (float) (1.0 - (double) lr * wd) : 1.0f;
		k->b1 = c->beta1;
		k->one_b1 = (float) (1.0 - (double) c->beta1);
		k->b2 = c->beta2;
		k->one_b2 = (float) (1.0 - (double) c->beta2);
		k->bc2_sqrt = (float) sqrt(bc2);
		k->eps = c->eps;
		k->step_size = (float) ((double) lr / bc1);
	}
}

/* The update of parameters [lo, hi) with the step's constants. */
static void
Update(AeOptimizer *opt, float *params, const float *grad, size_t lo, size_t hi)
{
	const AeOptimConfig *c = &opt->cfg;
	const AeOptimStepConsts *k = &opt->k;
	const float lr = opt->lr;
	const float wd = c->weight_decay;
	const float clip = k->clip;
	float	   *restrict p = params;
	const float *restrict g = grad;
	float	   *restrict m = opt->m;

	switch (c->kind)
	{
		case AE_OPT_SGD:
			for (size_t i = lo; i < hi; i++)
			{
				float		gi = g[i] * clip;

				gi += wd * p[i];	/* coupled L2: g += wd·p */
				p[i] -= lr * gi;
			}
			break;

		case AE_OPT_MOMENTUM:
			{
				const float mu = c->momentum;

				for (size_t i = lo; i < hi; i++)
				{
					float		gi = g[i] * clip;

					gi += wd * p[i];	/* coupled L2: g += wd·p */
					m[i] = mu * m[i] + gi;	/* b = μ·b + g (b = g on step 1) */
					gi = c->nesterov ? gi + mu * m[i] : m[i];	/* Nesterov: g + μ·b */
					p[i] -= lr * gi;
				}
			}
			break;

		case AE_OPT_ADAM:
		case AE_OPT_ADAMW:
			AdamUpdate(k, p + lo, g + lo, m + lo, opt->v + lo, hi - lo);
			break;
	}
}

void
ae_optim_step(AeOptimizer *opt, float *params, float *grad, double *grad_norm)
{
	const AeOptimConfig *c = &opt->cfg;
	float		clip = 1.0f;	/* gradient scale from clipping */
	double		norm = 0.0;
	bool		norm_known = false;

	/*
	 * clip_grad_norm_: coef = max_norm / (‖g‖ + 1e-6), applied when it is
	 * below 1.  Clipping needs the norm before the update; otherwise the
	 * norm (when asked for) is a pass of its own, still cheap next to the
	 * batch's matrix products.
	 */
	if (c->clip_norm > 0.0f || grad_norm != NULL)
	{
		norm = GradNorm(grad, opt->n);
		norm_known = true;
	}
	if (c->clip_norm > 0.0f)
	{
		float		coef = (float) ((double) c->clip_norm / (norm + 1e-6));

		if (coef < 1.0f)
			clip = coef;
	}
	if (grad_norm)
		*grad_norm = norm_known ? norm : NAN;
	BeginStep(opt, clip);
	Update(opt, params, grad, 0, opt->n);
}

AeStatus
ae_optim_begin(AeOptimizer *opt)
{
	/* clipping scales every part by the whole gradient's norm, not known yet */
	if (opt->cfg.clip_norm > 0.0f)
		return AE_ERR_CONFIG;
	BeginStep(opt, 1.0f);
	return AE_OK;
}

void
ae_optim_update(AeOptimizer *opt, float *params, const float *grad, size_t lo, size_t hi)
{
	if (hi > opt->n)
		hi = opt->n;
	if (lo < hi)
		Update(opt, params, grad, lo, hi);
}

void
ae_optim_epoch_end(AeOptimizer *opt)
{
	/* ExponentialLR multiplies a double learning rate; the kernels see it as float */
	opt->lr_exact *= (double) opt->cfg.lr_decay;
	opt->lr = (float) opt->lr_exact;
}
