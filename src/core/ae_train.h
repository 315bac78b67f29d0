/*
 * ae_train.h — the training loop over an in-memory row-major float matrix
 * (ae_train), and the same loop over rows from a batch source
 * (ae_train_batches, at the end).
 *
 * Minibatches, a fresh seeded shuffle each epoch, a validation split, early
 * stopping with patience (the best weights are restored), denoising
 * corruption per batch, a per-epoch history and a callback after every batch
 * through which the SQL layer checks for cancel and reports progress.
 *
 * Defaults (ae_train_config_defaults, values in ae_defaults.h, the same
 * ones ae_train() and ae_fit use): the objective's own defaults
 * (ae_objective_defaults), Adam with torch's settings (learning_rate 0.001,
 * betas 0.9/0.999, eps 1e-8, no weight decay, no clipping, lr_decay 1),
 * batch_size 32, epochs 50, shuffle true, validation_fraction 0.1,
 * patience 10, seed 42.  batch_size is at most 65536, epochs at most
 * 100000 (AE_MAX_BATCH_SIZE, AE_MAX_EPOCHS).
 *
 * What ae_train does, precisely:
 *   - Split: one permutation of the n rows drawn from the seed; its last
 *     floor(n · validation_fraction) rows validate (at least one row always
 *     trains).  Both sides are then kept in the order of X, so with
 *     shuffle = false the training rows are visited in table order.
 *     validation_fraction 0 holds nothing out.
 *   - Epoch: with shuffle the training rows are reshuffled (seeded), then
 *     cut into batches of batch_size; the last batch holds the remainder.
 *   - Batch: rows are gathered into one buffer (the clean target); with
 *     denoising a copy is corrupted with fresh noise (ae_corrupt) and is what
 *     the network sees.  ae_loss_grad, then one ae_optim_step.
 *   - Random streams: split, shuffles and noise (and the contractive
 *     projections) each have their own stream derived from the seed, so one
 *     option does not shift another's draws.  The seed does not touch the
 *     weights: the caller initialises them (ae_model_init_weights).
 *   - History: train_loss is the row-weighted mean of the epoch's batch
 *     total losses (regularisers included, measured while the weights
 *     moved); val_loss is the reconstruction loss alone (no regularisers,
 *     no noise) of the validation rows after the epoch, NaN without them.
 *   - Early stopping (patience > 0) watches val_loss, or train_loss when
 *     nothing is held out.  Only a strict improvement resets the count; it
 *     stops once patience epochs pass without one, and the best epoch's
 *     weights are restored, also when the epochs run out first.  With
 *     patience 0 every epoch runs and the last weights are kept.
 *   - lr_decay multiplies the learning rate after every epoch.
 *   - Errors: non-finite input → AE_ERR_DATA naming row and column
 *     (1-based); a non-finite training loss → AE_ERR_NONFINITE naming the
 *     epoch and batch; a non-finite validation loss → AE_ERR_NONFINITE naming
 *     the epoch; the callback returning false → AE_ERR_CANCELED with the
 *     weights as they were at that batch; an allocation failing →
 *     AE_ERR_NOMEM naming the buffer.  errbuf is written on every error.
 *   - Memory: everything (row index, batch buffers, gradient, best-weights
 *     copy, optimiser moments, network workspace — and a second one without
 *     the contractive buffers for validation when that penalty is on —,
 *     history) is allocated before the first batch and freed before
 *     returning, except the history handed over in the result.  Batches
 *     of rows that are contiguous in X (no shuffle) are read in place.
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
 * epoch is 1-based, batch is 1-based within the epoch (1..n_batches).
 * epoch_done is non-NULL only after the last batch of an epoch, and then
 * already carries that epoch's validation loss.
 */
typedef bool (*AeBatchCallback) (void *arg, int epoch, int batch, int n_batches,
								 const AeEpochStats *epoch_done);

typedef struct AeTrainResult
{
	int			epochs_run;
	int			best_epoch;		/* the epoch whose weights were kept (1-based) */
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
 * unspecified: the caller keeps its own copy if it must roll back.  On
 * error result->history is NULL and errbuf (AE_ERRBUF_SIZE) says why.
 */
AeStatus	ae_train(AeModel *model, const AeTrainConfig *cfg, const float *X, size_t n,
					 const AeAllocator *al, AeBatchCallback cb, void *cb_arg,
					 AeTrainResult *result, char *errbuf);

/*
 * The same loop over rows that come from elsewhere (the SQL layer's
 * streaming training reads them from a table, a pass per epoch): a batch
 * source hands out clean rows (row-major, model->dims[0] wide) in
 * batches of ae_train_batch_rows(cfg, n_train) rows, the last one
 * possibly shorter.  Everything ae_train says from "Batch" on holds: the
 * corruption, optimiser steps, history, validation loss, early stopping,
 * lr decay, callback and errors, with the source's split and order; the
 * noise (and contractive projections) draw from rng_noise.
 *
 * train_batch(arg, epoch, batch, &rows) gives batch number batch (0-based;
 * 0 starts the epoch's pass) and returns its row count, n_train rows an
 * epoch in all; after the last batch it is called once more (batch =
 * the batch count) and must return 0, which lets the source end its pass.
 * val_batch likewise gives the n_val validation rows after each epoch,
 * from batch 0 until it returns 0; it is not called when n_val is 0.
 * *rows stays valid until the next call.  A source that hands out another
 * number of rows makes the training fail with AE_ERR_DATA.  A source may
 * also leave by a non-local exit (the SQL layer's errors); the loop holds
 * nothing but allocator memory.
 */
typedef struct AeBatchSource
{
	size_t		n_train;		/* >= 1 */
	size_t		n_val;			/* 0: nothing validates */
	int			(*train_batch) (void *arg, int epoch, int batch, const float **rows);
	int			(*val_batch) (void *arg, int epoch, int batch, const float **rows);
	void	   *arg;
} AeBatchSource;

AeStatus	ae_train_batches(AeModel *model, const AeTrainConfig *cfg, const AeBatchSource *src,
							 AeRng *rng_noise, const AeAllocator *al, AeBatchCallback cb,
							 void *cb_arg, AeTrainResult *result, char *errbuf);

/* Rows a batch holds: batch_size, or n_train when there are fewer. */
int			ae_train_batch_rows(const AeTrainConfig *cfg, size_t n_train);

#endif							/* AE_TRAIN_H */
