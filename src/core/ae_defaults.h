/*
 * ae_defaults.h — every default of a training, and the limits of the
 * integer settings, in one table.
 *
 * The core's own defaults (ae_train_config_defaults, ae_objective_defaults,
 * ae_optim_defaults) and the SQL option table (ae_options.c, what users of
 * ae_train and ae_fit get when they leave an option out) both read them
 * from here.  Reals are written as users would write them: the SQL layer
 * keeps them in double (they are stored with the model as text), the core
 * rounds them to float.
 *
 * Enumeration defaults are spelled as the enumerators, so this file needs
 * no header; whoever uses one includes the enumeration's header.
 */
#ifndef AE_DEFAULTS_H
#define AE_DEFAULTS_H

/* network (SQL layer: ae_arch_make takes these explicitly) */
#define AE_DEFAULT_ACTIVATION			AE_ACT_RELU
#define AE_DEFAULT_OUTPUT_ACTIVATION	AE_ACT_LINEAR	/* sigmoid for loss bce */
#define AE_DEFAULT_NORMALIZE			AE_NORM_ZSCORE	/* minmax for loss bce */
#define AE_DEFAULT_CONTAMINATION		0.05	/* share of training rows above the threshold */

/* objective (ae_objective_defaults) */
#define AE_DEFAULT_LOSS					AE_LOSS_MSE
#define AE_DEFAULT_SPARSITY_TARGET		0.05
#define AE_DEFAULT_NOISE				AE_NOISE_NONE
#define AE_DEFAULT_NOISE_LEVEL			0.1

/* optimiser (ae_optim_defaults): torch.optim's */
#define AE_DEFAULT_OPTIMIZER			AE_OPT_ADAM
#define AE_DEFAULT_LR_ADAM				1e-3	/* adam, adamw */
#define AE_DEFAULT_LR_SGD				1e-2	/* sgd, momentum */
#define AE_DEFAULT_MOMENTUM				0.9
#define AE_DEFAULT_BETA1				0.9
#define AE_DEFAULT_BETA2				0.999
#define AE_DEFAULT_EPS					1e-8
#define AE_DEFAULT_WEIGHT_DECAY_ADAMW	1e-2	/* the coupled kinds: 0 */
#define AE_DEFAULT_LR_DECAY				1.0

/* the loop (ae_train_config_defaults) */
#define AE_DEFAULT_BATCH_SIZE			32
#define AE_DEFAULT_EPOCHS				50
#define AE_DEFAULT_SHUFFLE				true
#define AE_DEFAULT_VALIDATION_FRACTION	0.1
#define AE_DEFAULT_PATIENCE				10
#define AE_DEFAULT_SEED					42

/* mixed-type models (SQL layer, ae_mixed.c) */
#define AE_DEFAULT_MAX_CATEGORIES		100		/* the rest of a column's categories pool into "other" */
#define AE_MAX_CATEGORIES				65534

/* limits, checked by ae_train_config_validate and by the SQL option table */
#define AE_MAX_BATCH_SIZE				65536	/* far past any useful size; int arithmetic stays safe */
#define AE_MAX_EPOCHS					100000
#define AE_MAX_PATIENCE					100000
#define AE_MAX_CONTRACTIVE_SAMPLES		65536
#define AE_MAX_SHUFFLE_BUFFER			1e9		/* rows; the memory budget is checked as well */

/*
 * Streaming training (ae_train with data 'stream').  Without the option
 * shuffle_buffer the buffer holds AE_DEFAULT_SHUFFLE_BUFFER_BYTES of rows
 * (at least a batch); the error quantiles come from a seeded uniform
 * sample of AE_QUANTILE_SAMPLE rows' errors (exact below that many rows).
 */
#define AE_DEFAULT_SHUFFLE_BUFFER_BYTES	(64.0 * 1024 * 1024)
#define AE_QUANTILE_SAMPLE				100000

/* The learning rate and weight decay that depend on the optimiser kind. */
#define AE_DEFAULT_LEARNING_RATE(kind) \
	(((kind) == AE_OPT_ADAM || (kind) == AE_OPT_ADAMW) ? AE_DEFAULT_LR_ADAM : AE_DEFAULT_LR_SGD)
#define AE_DEFAULT_WEIGHT_DECAY(kind) \
	((kind) == AE_OPT_ADAMW ? AE_DEFAULT_WEIGHT_DECAY_ADAMW : 0.0)

#endif							/* AE_DEFAULTS_H */
