/*
 * ae_optim.h — optimisers over one flat parameter vector, with PyTorch's
 * semantics and defaults (torch.optim.SGD / Adam / AdamW, version 1.13), so
 * that a model trained here matches one trained there step for step.
 */
#ifndef AE_OPTIM_H
#define AE_OPTIM_H

#include "ae_core.h"

typedef enum AeOptimizerKind
{
	AE_OPT_SGD = 0,
	AE_OPT_MOMENTUM,			/* SGD with momentum, optional Nesterov */
	AE_OPT_ADAM,
	AE_OPT_ADAMW
} AeOptimizerKind;

typedef struct AeOptimConfig
{
	AeOptimizerKind kind;
	float		learning_rate;	/* > 0 */
	float		momentum;		/* AE_OPT_MOMENTUM: default 0.9 */
	bool		nesterov;
	float		beta1;			/* Adam/AdamW: 0.9 */
	float		beta2;			/* 0.999 */
	float		eps;			/* 1e-8 */
	float		weight_decay;	/* coupled L2 for sgd/momentum/adam, decoupled for adamw */
	float		clip_norm;		/* > 0: clip the global gradient L2 norm (torch.nn.utils.clip_grad_norm_) */
	float		lr_decay;		/* per-epoch multiplicative factor (ExponentialLR gamma); 1 = constant */
} AeOptimConfig;

/*
 * Defaults for kind (values in ae_defaults.h), torch's: learning rate 0.001 for adam/adamw, 0.01 for
 * sgd/momentum; momentum 0.9, no Nesterov; betas 0.9/0.999, eps 1e-8;
 * weight_decay 0.01 for adamw, 0 otherwise; no clipping; lr_decay 1.
 * ae_optim_validate accepts learning_rate > 0, momentum/beta1/beta2 in
 * [0, 1), eps > 0, weight_decay >= 0, clip_norm >= 0, lr_decay in (0, 1],
 * nesterov only with AE_OPT_MOMENTUM and momentum > 0.
 */
void		ae_optim_defaults(AeOptimConfig *cfg, AeOptimizerKind kind);
AeStatus	ae_optim_validate(const AeOptimConfig *cfg, char *errbuf);
/* The canonical name (ae_names.c; parse with ae_name_parse(ae_optimizer_names, ...)). */
const char *ae_optimizer_name(AeOptimizerKind kind);

/* The constants of the step being taken (ae_optim.c). */
typedef struct AeOptimStepConsts
{
	float		clip;			/* gradient scale from clipping (1: none) */
	float		coupled_wd;		/* Adam's L2 term (0 for AdamW) */
	float		shrink;			/* AdamW's 1 − lr·wd (1 for Adam) */
	float		b1,
				one_b1,
				b2,
				one_b2;
	float		bc2_sqrt;		/* √(1 − β2ᵗ) */
	float		eps;
	float		step_size;		/* lr / (1 − β1ᵗ) */
} AeOptimStepConsts;

/* Optimiser state: moment buffers are allocated only when the kind needs them. */
typedef struct AeOptimizer
{
	AeOptimConfig cfg;
	size_t		n;
	long		step;			/* steps taken (Adam bias correction) */
	float		lr;				/* current learning rate after decay */
	double		lr_exact;		/* the same in double: decay compounds like ExponentialLR's */
	float	   *m;				/* momentum buffer / first moment, or NULL */
	float	   *v;				/* second moment, or NULL */
	AeOptimStepConsts k;		/* of the step being taken */
} AeOptimizer;

AeStatus	ae_optim_create(AeOptimizer *opt, const AeOptimConfig *cfg, size_t n_params,
							const AeAllocator *al);
void		ae_optim_destroy(AeOptimizer *opt, const AeAllocator *al);

/*
 * One update of params from grad (both n floats), in torch's order: clip
 * the gradient by its global norm, add coupled weight decay (or shrink the
 * weights, AdamW), update the moments, step.  grad may be modified (this
 * implementation leaves it as it is).
 * Returns the gradient's global norm before clipping through *grad_norm
 * when not NULL (an extra pass over grad when clipping is off).
 */
void		ae_optim_step(AeOptimizer *opt, float *params, float *grad, double *grad_norm);

/*
 * The same update in parts, for a gradient that arrives in parts (the
 * shards of a sharded training send the output layer's first):
 * ae_optim_begin once a step, then ae_optim_update over ranges [lo, hi)
 * that together cover the n parameters once; bit for bit ae_optim_step.
 * The update is elementwise except for clipping, which needs the whole
 * gradient's norm first: ae_optim_begin returns AE_ERR_CONFIG with
 * clip_norm > 0 (and takes no step).
 */
AeStatus	ae_optim_begin(AeOptimizer *opt);
void		ae_optim_update(AeOptimizer *opt, float *params, const float *grad, size_t lo,
							size_t hi);

/* End of an epoch: apply lr_decay. */
void		ae_optim_epoch_end(AeOptimizer *opt);

#endif							/* AE_OPTIM_H */
