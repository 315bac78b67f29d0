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

/* Defaults for kind: learning rate 0.001 for adam/adamw, 0.01 for sgd/momentum. */
void		ae_optim_defaults(AeOptimConfig *cfg, AeOptimizerKind kind);
AeStatus	ae_optim_validate(const AeOptimConfig *cfg, char *errbuf);
const char *ae_optimizer_name(AeOptimizerKind kind);
bool		ae_optimizer_parse(const char *name, AeOptimizerKind *kind);

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
} AeOptimizer;

AeStatus	ae_optim_create(AeOptimizer *opt, const AeOptimConfig *cfg, size_t n_params,
							const AeAllocator *al);
void		ae_optim_destroy(AeOptimizer *opt, const AeAllocator *al);

/*
 * One update of params from grad (both n floats).  grad may be modified
 * (clipping, coupled weight decay).  Returns the gradient's global norm
 * before clipping through *grad_norm when not NULL.
 */
void		ae_optim_step(AeOptimizer *opt, float *params, float *grad, double *grad_norm);

/* End of an epoch: apply lr_decay. */
void		ae_optim_epoch_end(AeOptimizer *opt);

#endif							/* AE_OPTIM_H */
