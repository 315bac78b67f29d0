/*
 * ae_train.h — the training loop over an in-memory row-major float matrix.
 *
 * Minibatches, a fresh seeded shuffle each epoch, a validation split, early
 * stopping with patience (the best weights are restored), denoising
 * corruption per batch, a per-epoch history and a callback after every batch
 * through which the SQL layer checks for cancel and reports progress.
 */
#ifndef AE_TRAIN_H
#define AE_TRAIN_H

#include "ae_nn.h"
#include "ae_optim.h"

typedef struct AeTrainConfig
{
	AeObjective objective;
	AeOptimConfig optim;
	int			batch_size;		/* >= 1; a last partial batch is used */
	int			epochs;			/* >= 1 */
	bool		shuffle;		/* reshuffle the training rows each epoch */
	float		validation_fraction;	/* [0, 1): the last share of rows after one seeded permutation */
	int			patience;		/* 0: no early stopping */
	uint64_t	seed;			/* weight init (when asked), shuffles, split, noise */
} AeTrainConfig;

void		ae_train_config_defaults(AeTrainConfig *cfg);
AeStatus	ae_train_config_validate(const AeTrainConfig *cfg, const AeModel *model, char *errbuf);

typedef struct AeEpochStats
{
	int			epoch;			/* 1-based */
	double		train_loss;		/* mean total loss over the epoch's batches, row-weighted */
	double		val_loss;		/* reconstruction loss on the clean validation rows; NaN without them */
	double		seconds;		/* wall time of the epoch */
} AeEpochStats;

/*
 * Called after every batch; return false to stop (AE_ERR_CANCELED).
 * epoch_done is non-NULL only after the last batch of an epoch.
 */
typedef bool (*AeBatchCallback) (void *arg, int epoch, int batch, int n_batches,
								 const AeEpochStats *epoch_done);

typedef struct AeTrainResult
{
	int			epochs_run;
	int			best_epoch;		/* the epoch whose weights were kept */
	size_t		n_train;
	size_t		n_val;
	double		train_loss;		/* of the kept epoch */
	double		val_loss;
	AeEpochStats *history;		/* epochs_run entries, from the allocator */
} AeTrainResult;

/*
 * Train model (weights already initialised or warm-started) on n rows of X
 * (n×d, normalised as the caller wants).  X is not modified.  Deterministic
 * for a seed with one BLAS thread.  On error the model's parameters are
 * unspecified: the caller keeps its own copy if it must roll back.
 */
AeStatus	ae_train(AeModel *model, const AeTrainConfig *cfg, const float *X, size_t n,
					 const AeAllocator *al, AeBatchCallback cb, void *cb_arg,
					 AeTrainResult *result, char *errbuf);

#endif							/* AE_TRAIN_H */
