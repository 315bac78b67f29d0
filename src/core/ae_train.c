/*
 * ae_train.c — the training loop: split, shuffle, minibatches, denoising
 * corruption, optimiser steps, validation, early stopping, history.
 *
 * Two layers.  The epoch loop, ae_train_batches, takes its rows from a
 * batch source and reads as its steps: AllocLoop, RunEpochs (each epoch:
 * TrainBatch per batch, EndEpoch after the last, with ValidationLoss and
 * early stopping), Finish, FreeLoop.  ae_train is that loop over an
 * in-memory matrix: CheckData, SplitRows, and a source (MemorySource) that
 * shuffles the row index each epoch and gathers a batch's rows into one
 * contiguous buffer (a memcpy per row).  The streaming training of the SQL
 * layer is the same loop over a source that reads a table; one loop means
 * one early stopping, one history and one progress callback for both.
 *
 * Everything a batch needs is allocated before the first epoch; the inner
 * loop corrupts a copy of the batch for denoising and hands both to the
 * network and the optimiser.  Its own overhead is one pass over the batch and one over the
 * parameters, small next to the matrix products.
 *
 * Random streams: the seed feeds one splitmix/xoshiro generator whose first
 * three draws seed three independent streams (split, shuffles, noise), so
 * switching one feature off (say shuffle) leaves the others' draws as they
 * were.
 */
#include "ae_train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ae_defaults.h"
#include "ae_groups.h"


void
ae_train_config_defaults(AeTrainConfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	ae_objective_defaults(&cfg->objective);
	ae_optim_defaults(&cfg->optim, AE_OPT_ADAM);
	cfg->batch_size = AE_DEFAULT_BATCH_SIZE;
	cfg->epochs = AE_DEFAULT_EPOCHS;
	cfg->shuffle = AE_DEFAULT_SHUFFLE;
	cfg->validation_fraction = (float) AE_DEFAULT_VALIDATION_FRACTION;
	cfg->patience = AE_DEFAULT_PATIENCE;
	cfg->seed = AE_DEFAULT_SEED;
}

AeStatus
ae_train_config_validate(const AeTrainConfig *cfg, const AeModel *model, char *errbuf)
{
	AeStatus	st;

	if (cfg->batch_size < 1 || cfg->batch_size > AE_MAX_BATCH_SIZE)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE, "batch_size must be between 1 and %d, got %d",
				 AE_MAX_BATCH_SIZE, cfg->batch_size);
		return AE_ERR_CONFIG;
	}
	if (cfg->epochs < 1 || cfg->epochs > AE_MAX_EPOCHS)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE, "epochs must be between 1 and %d, got %d",
				 AE_MAX_EPOCHS, cfg->epochs);
		return AE_ERR_CONFIG;
	}
	if (!(cfg->validation_fraction >= 0.0f && cfg->validation_fraction < 1.0f))
	{
		snprintf(errbuf, AE_ERRBUF_SIZE,
				 "validation_fraction must be in [0, 1), got %g",
				 (double) cfg->validation_fraction);
		return AE_ERR_CONFIG;
	}
	if (cfg->patience < 0 || cfg->patience > AE_MAX_PATIENCE)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE,
				 "patience must be between 0 (no early stopping) and %d, got %d",
				 AE_MAX_PATIENCE, cfg->patience);
		return AE_ERR_CONFIG;
	}
	st = ae_optim_validate(&cfg->optim, errbuf);
	if (st != AE_OK)
		return st;
	if (model != NULL)
		return ae_objective_validate(&cfg->objective, model, errbuf);
	return AE_OK;
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Rows ahead whose cache lines Gather requests before copying. */
#define AE_GATHER_AHEAD 8

/*
 * Copy rows idx[0..B) of X (n×d) into out (B×d), contiguous.  Shuffled rows
 * are scattered over a matrix far larger than the caches, so each copy
 * would wait for memory; asking for the lines of a row a few rows early
 * overlaps those waits.
 */
static inline void
Gather(const float *X, int d, const uint32_t *idx, int B, float *out)
{
	const size_t row_bytes = (size_t) d * sizeof(float);

	for (int b = 0; b < B; b++)
	{
		if (b + AE_GATHER_AHEAD < B)
		{
			const char *next = (const char *) (X + (size_t) idx[b + AE_GATHER_AHEAD] * d);

			for (size_t off = 0; off < row_bytes; off += 64)
				__builtin_prefetch(next + off);
		}
		memcpy(out + (size_t) b * d, X + (size_t) idx[b] * d, row_bytes);
	}
}

/* ---------------------------------------------------------------- early stopping */

/* Early stopping and the choice of the kept epoch (see "Early stopping" in ae_train.h). */
typedef struct AeEarlyStop
{
	int			patience;		/* 0: every epoch runs, the last is kept */
	float	   *best;			/* (n_params) with patience, else NULL */
	double		best_score;
	int			best_epoch;		/* 0 before the first epoch */
	int			epochs_run;
} AeEarlyStop;

static void
EarlyStopInit(AeEarlyStop *es, int patience, float *best)
{
	es->patience = patience;
	es->best = patience > 0 ? best : NULL;
	es->best_score = INFINITY;
	es->best_epoch = 0;
	es->epochs_run = 0;
}

/*
 * The score is the validation loss, or the training loss when nothing is
 * held out (val_loss NaN); only a strict improvement resets the patience.
 */
static bool
EarlyStopUpdate(AeEarlyStop *es, const AeModel *model, const AeEpochStats *stats)
{
	double		score = isnan(stats->val_loss) ? stats->train_loss : stats->val_loss;

	es->epochs_run = stats->epoch;
	if (score < es->best_score)
	{
		es->best_score = score;
		es->best_epoch = stats->epoch;
		if (es->best)
			memcpy(es->best, model->params, model->n_params * sizeof(float));
		return false;
	}
	return es->patience > 0 && stats->epoch - es->best_epoch >= es->patience;
}

/*
 * With early stopping on, the best epoch's weights are kept whether the
 * patience ran out or the epochs did; without it, the last epoch's.
 */
static int
EarlyStopFinish(AeEarlyStop *es, AeModel *model)
{
	if (es->best && es->best_epoch != es->epochs_run)
		memcpy(model->params, es->best, model->n_params * sizeof(float));
	else if (!es->best)
		es->best_epoch = es->epochs_run;
	return es->best_epoch;
}

/* ---------------------------------------------------------------- the epoch loop */

/* Everything one call of ae_train_batches holds, allocated up front by AllocLoop. */
typedef struct Loop
{
	AeModel    *model;
	const AeTrainConfig *cfg;
	const AeBatchSource *src;
	AeRng	   *rng_noise;
	const AeAllocator *al;
	char	   *errbuf;
	int			bs;				/* batch rows: batch_size, or fewer rows when there are fewer */
	int			n_batches;

	float	   *x_input;		/* (bs, d) the corrupted batch, denoising only */
	float	   *grad;			/* (n_params) */
	float	   *best;			/* (n_params) best epoch's weights, early stopping only */
	AeEpochStats *history;		/* (epochs) */
	AeWorkspace *ws;
	AeWorkspace *ws_val;		/* ws, or one without the contractive buffers */
	AeOptimizer opt;
	bool		opt_made;
	AeEarlyStop stop;
} Loop;

/* One allocation; on failure errbuf names what could not be had. */
static void *
RunAlloc(const AeAllocator *al, char *errbuf, size_t bytes, const char *what)
{
	void	   *p = ae_alloc(al, bytes);

	if (p == NULL)
		snprintf(errbuf, AE_ERRBUF_SIZE, "out of memory allocating the %s (%zu bytes)", what, bytes);
	return p;
}

/*
 * Every buffer of the loop, before the first batch (see "Memory" in
 * ae_train.h).  On AE_ERR_NOMEM errbuf says which; FreeLoop releases
 * whatever was allocated.
 */
static AeStatus
AllocLoop(Loop *r)
{
	const AeObjective *obj = &r->cfg->objective;
	size_t		np = r->model->n_params > 0 ? r->model->n_params : 1;
	size_t		batch_bytes = (size_t) r->bs * r->model->dims[0] * sizeof(float);
	AeStatus	st;

	if ((obj->noise != AE_NOISE_NONE &&
		 (r->x_input = RunAlloc(r->al, r->errbuf, batch_bytes, "corrupted batch buffer")) == NULL) ||
		(r->grad = RunAlloc(r->al, r->errbuf, np * sizeof(float), "gradient")) == NULL ||
		(r->cfg->patience > 0 &&
		 (r->best = RunAlloc(r->al, r->errbuf, np * sizeof(float), "copy of the best weights")) == NULL) ||
		(r->history = RunAlloc(r->al, r->errbuf, (size_t) r->cfg->epochs * sizeof(AeEpochStats),
							   "history")) == NULL)
		return AE_ERR_NOMEM;
	r->ws = ae_workspace_create(r->model, obj, r->bs, r->al);
	if (r->ws == NULL)
	{
		snprintf(r->errbuf, AE_ERRBUF_SIZE, "out of memory allocating the network workspace");
		return AE_ERR_NOMEM;
	}
	/* validation skips the contractive penalty, and a workspace fits one setting */
	r->ws_val = r->ws;
	if (r->src->n_val > 0 && obj->contractive > 0.0f)
	{
		r->ws_val = ae_workspace_create(r->model, NULL, r->bs, r->al);
		if (r->ws_val == NULL)
		{
			snprintf(r->errbuf, AE_ERRBUF_SIZE, "out of memory allocating the validation workspace");
			return AE_ERR_NOMEM;
		}
	}
	st = ae_optim_create(&r->opt, &r->cfg->optim, r->model->n_params, r->al);
	if (st != AE_OK)
	{
		snprintf(r->errbuf, AE_ERRBUF_SIZE, "out of memory allocating the optimizer state");
		return st;
	}
	r->opt_made = true;
	return AE_OK;
}

static void
FreeLoop(Loop *r)
{
	const AeAllocator *al = r->al;

	if (r->opt_made)
		ae_optim_destroy(&r->opt, al);
	if (r->ws_val && r->ws_val != r->ws)
		ae_workspace_destroy(r->ws_val, al);
	if (r->ws)
		ae_workspace_destroy(r->ws, al);
	ae_free(al, r->history);
	ae_free(al, r->best);
	ae_free(al, r->grad);
	ae_free(al, r->x_input);
}

/*
 * One batch of B clean rows x_tgt (the target): corrupt a copy for
 * denoising, loss and gradient, one optimiser step.  Adds the batch's
 * row-weighted loss to *loss_sum.  batch is 0-based.
 */
static AeStatus
TrainBatch(Loop *r, int epoch, int batch, const float *x_tgt, int B, double *loss_sum)
{
	const AeObjective *obj = &r->cfg->objective;
	const float *x_in = x_tgt;
	AeLossParts parts;
	AeStatus	st;

	if (obj->noise != AE_NOISE_NONE)
	{
		/* fresh noise every batch; the target stays clean */
		ae_corrupt(obj, r->rng_noise, x_tgt, r->x_input, (size_t) B * r->model->dims[0]);
		if (r->model->groups)
			ae_keep_groups_clean(r->model->groups, x_tgt, r->x_input, B, r->model->dims[0]);
		x_in = r->x_input;
	}
	st = ae_loss_grad(r->model, r->ws, obj, x_in, x_tgt, B, r->grad, &parts, r->rng_noise);
	if (st == AE_OK && !isfinite(parts.total))
		st = AE_ERR_NONFINITE;
	if (st == AE_ERR_NONFINITE)
		snprintf(r->errbuf, AE_ERRBUF_SIZE,
				 "the training loss became non-finite in epoch %d, batch %d of %d; "
				 "a lower learning_rate or a clip_norm may help",
				 epoch, batch + 1, r->n_batches);
	else if (st != AE_OK)
		snprintf(r->errbuf, AE_ERRBUF_SIZE, "%s in epoch %d, batch %d of %d",
				 ae_status_string(st), epoch, batch + 1, r->n_batches);
	if (st != AE_OK)
		return st;
	ae_optim_step(&r->opt, r->model->params, r->grad, NULL);
	*loss_sum += parts.total * B;
	return AE_OK;
}

/*
 * Row-weighted mean reconstruction loss of the validation rows, clean
 * input and target, in the source's batches.  Regularisers are switched
 * off: early stopping should judge reconstruction, and the contractive
 * Jacobian would cost more than the forward pass.
 */
static AeStatus
ValidationLoss(Loop *r, int epoch, double *loss)
{
	AeObjective plain = r->cfg->objective;
	double		sum = 0.0;

	plain.l1_activity = 0.0f;
	plain.sparsity_weight = 0.0f;
	plain.contractive = 0.0f;
	plain.noise = AE_NOISE_NONE;

	for (int batch = 0;; batch++)
	{
		const float *rows;
		int			B = r->src->val_batch(r->src->arg, epoch, batch, &rows);
		AeLossParts parts;
		AeStatus	st;

		if (B == 0)
			break;
		st = ae_loss_only(r->model, r->ws_val, &plain, rows, rows, B, &parts, r->rng_noise);
		if (st != AE_OK)
			return st;
		sum += parts.recon * B;
	}
	*loss = sum / (double) r->src->n_val;
	return isfinite(*loss) ? AE_OK : AE_ERR_NONFINITE;
}

/*
 * After the last batch of an epoch: its statistics, the validation loss
 * and early stopping.  *stop is set when the patience ran out.
 */
static AeStatus
EndEpoch(Loop *r, int epoch, double t0, double loss_sum, bool *stop)
{
	AeEpochStats *stats = &r->history[epoch - 1];

	stats->epoch = epoch;
	stats->train_loss = loss_sum / (double) r->src->n_train;
	stats->val_loss = NAN;
	if (r->src->n_val > 0)
	{
		AeStatus	st = ValidationLoss(r, epoch, &stats->val_loss);

		if (st == AE_ERR_NONFINITE)
			snprintf(r->errbuf, AE_ERRBUF_SIZE,
					 "the validation loss became non-finite after epoch %d; "
					 "a lower learning_rate or a clip_norm may help", epoch);
		else if (st != AE_OK)
			snprintf(r->errbuf, AE_ERRBUF_SIZE, "%s while validating after epoch %d",
					 ae_status_string(st), epoch);
		if (st != AE_OK)
			return st;
	}
	stats->seconds = Now() - t0;
	*stop = EarlyStopUpdate(&r->stop, r->model, stats);
	return AE_OK;
}

/* A source that hands out other than n_train rows an epoch: a caller's bug. */
static AeStatus
SourceMiscounted(Loop *r, int epoch)
{
	snprintf(r->errbuf, AE_ERRBUF_SIZE,
			 "the batch source did not hand out %zu training rows in %d batches in epoch %d",
			 r->src->n_train, r->n_batches, epoch);
	return AE_ERR_DATA;
}

/*
 * The epochs: the source's batches (the callback after each), end of
 * epoch, lr decay.  After the last batch the source is asked once more,
 * so that it can finish its pass; it must then hand out nothing.
 */
static AeStatus
RunEpochs(Loop *r, AeBatchCallback cb, void *cb_arg)
{
	const AeBatchSource *src = r->src;

	for (int epoch = 1; epoch <= r->cfg->epochs; epoch++)
	{
		double		t0 = Now(),
					loss_sum = 0.0;
		bool		stop = false;
		size_t		seen = 0;

		for (int batch = 0; batch < r->n_batches; batch++)
		{
			bool		last = batch == r->n_batches - 1;
			const float *rows;
			int			B = src->train_batch(src->arg, epoch, batch, &rows);
			AeStatus	st;

			seen += (size_t) B;
			if (B <= 0 || B > r->bs)
				return SourceMiscounted(r, epoch);
			st = TrainBatch(r, epoch, batch, rows, B, &loss_sum);
			if (st == AE_OK && last)
			{
				if (seen != src->n_train ||
					src->train_batch(src->arg, epoch, r->n_batches, &rows) != 0)
					return SourceMiscounted(r, epoch);
				st = EndEpoch(r, epoch, t0, loss_sum, &stop);
			}
			if (st != AE_OK)
				return st;
			if (cb && !cb(cb_arg, epoch, batch + 1, r->n_batches, last ? &r->history[epoch - 1] : NULL))
			{
				snprintf(r->errbuf, AE_ERRBUF_SIZE, "training was canceled in epoch %d, batch %d of %d",
						 epoch, batch + 1, r->n_batches);
				return AE_ERR_CANCELED;
			}
		}
		ae_optim_epoch_end(&r->opt);
		if (stop)
			break;
	}
	return AE_OK;
}

/* The result: the kept epoch's weights (EarlyStopFinish); the history moves to it. */
static void
Finish(Loop *r, AeTrainResult *result)
{
	int			kept = EarlyStopFinish(&r->stop, r->model);

	result->epochs_run = r->stop.epochs_run;
	result->best_epoch = kept;
	result->n_train = r->src->n_train;
	result->n_val = r->src->n_val;
	result->train_loss = r->history[kept - 1].train_loss;
	result->val_loss = r->history[kept - 1].val_loss;
	result->history = r->history;
	r->history = NULL;
}

/* What the result says until a training succeeds. */
static void
ResetResult(AeTrainResult *result)
{
	memset(result, 0, sizeof(*result));
	result->train_loss = NAN;
	result->val_loss = NAN;
}

AeStatus
ae_train_batches(AeModel *model, const AeTrainConfig *cfg, const AeBatchSource *src,
				 AeRng *rng_noise, const AeAllocator *al, AeBatchCallback cb, void *cb_arg,
				 AeTrainResult *result, char *errbuf)
{
	Loop		r;
	AeStatus	st;

	ResetResult(result);
	st = ae_train_config_validate(cfg, model, errbuf);
	if (st != AE_OK)
		return st;
	if (src->n_train == 0 || src->n_train > UINT32_MAX)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE, "the training rows must number between 1 and %u, got %zu",
				 (unsigned) UINT32_MAX, src->n_train);
		return AE_ERR_DATA;
	}

	memset(&r, 0, sizeof(r));
	r.model = model;
	r.cfg = cfg;
	r.src = src;
	r.rng_noise = rng_noise;
	r.al = al;
	r.errbuf = errbuf;
	r.bs = ae_train_batch_rows(cfg, src->n_train);
	r.n_batches = (int) ((src->n_train + r.bs - 1) / r.bs);

	st = AllocLoop(&r);
	EarlyStopInit(&r.stop, cfg->patience, r.best);
	if (st == AE_OK)
		st = RunEpochs(&r, cb, cb_arg);
	if (st == AE_OK)
		Finish(&r, result);
	FreeLoop(&r);
	return st;
}

int
ae_train_batch_rows(const AeTrainConfig *cfg, size_t n_train)
{
	return cfg->batch_size < (long) n_train ? cfg->batch_size : (int) n_train;
}

/* ---------------------------------------------------------------- in memory */

/* The rows of X as a batch source: the split, a shuffle per epoch, gathers. */
typedef struct MemorySource
{
	const AeTrainConfig *cfg;
	const float *X;				/* n × d, the caller's */
	size_t		n;
	int			d;
	size_t		n_train;		/* idx[0..n_train) train, idx[n_train..n) validate */
	size_t		n_val;
	int			bs;
	const AeAllocator *al;
	char	   *errbuf;

	AeRng		rng_split,
				rng_shuffle,
				rng_noise;

	uint32_t   *idx;			/* (n) row numbers */
	float	   *x_target;		/* (bs, d) the gathered batch */
} MemorySource;

/* The input checks: row count, and every value finite (naming the first that is not). */
static AeStatus
CheckData(const float *X, size_t n, int d, char *errbuf)
{
	if (n == 0)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE, "no rows to train on");
		return AE_ERR_DATA;
	}
	if (n > UINT32_MAX)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE, "too many rows to train on: %zu, at most %u",
				 n, (unsigned) UINT32_MAX);
		return AE_ERR_DATA;
	}
	if (!ae_all_finite(X, n * (size_t) d))
	{
		size_t		i = 0;

		while (isfinite(X[i]))
			i++;
		snprintf(errbuf, AE_ERRBUF_SIZE,
				 "row %zu, column %d of the training data is not finite (NaN or infinity)",
				 i / d + 1, (int) (i % d) + 1);
		return AE_ERR_DATA;
	}
	return AE_OK;
}

/*
 * The split: the last n_val rows of one seeded permutation validate.  Both
 * sides are then put back in table order: without shuffle the training
 * rows are seen in the order given, and validation gathers read memory
 * forwards.
 */
static AeStatus
SplitRows(MemorySource *m)
{
	uint32_t   *idx = m->idx;
	uint8_t    *is_val;
	size_t		t = 0,
				v = m->n_train;

	for (size_t i = 0; i < m->n; i++)
		idx[i] = (uint32_t) i;
	if (m->n_val == 0)
		return AE_OK;
	ae_rng_shuffle(&m->rng_split, idx, (uint32_t) m->n);
	is_val = RunAlloc(m->al, m->errbuf, m->n, "validation split");
	if (is_val == NULL)
		return AE_ERR_NOMEM;
	memset(is_val, 0, m->n);
	for (size_t i = m->n_train; i < m->n; i++)
		is_val[idx[i]] = 1;
	for (size_t i = 0; i < m->n; i++)
	{
		if (is_val[i])
			idx[v++] = (uint32_t) i;
		else
			idx[t++] = (uint32_t) i;
	}
	ae_free(m->al, is_val);
	return AE_OK;
}

/* AeBatchSource.train_batch: a fresh shuffle at the start of an epoch, then the batches in turn. */
static int
MemoryTrainBatch(void *arg, int epoch, int batch, const float **rows)
{
	MemorySource *m = (MemorySource *) arg;
	size_t		start = (size_t) batch * m->bs;
	const uint32_t *idx;
	int			B;

	(void) epoch;

	if (batch == 0 && m->cfg->shuffle)
		ae_rng_shuffle(&m->rng_shuffle, m->idx, (uint32_t) m->n_train);
	if (start >= m->n_train)
		return 0;
	B = (int) (m->n_train - start < (size_t) m->bs ? m->n_train - start : (size_t) m->bs);
	idx = m->idx + start;

	/*
	 * Without shuffle the training rows are in increasing order, so a batch
	 * whose first and last rows are B - 1 apart is a contiguous block of X
	 * and needs no copy.
	 */
	if (!m->cfg->shuffle && idx[B - 1] - idx[0] == (uint32_t) (B - 1))
		*rows = m->X + (size_t) idx[0] * m->d;
	else
	{
		Gather(m->X, m->d, idx, B, m->x_target);
		*rows = m->x_target;
	}
	return B;
}

/* AeBatchSource.val_batch: the validation rows in batches, in table order. */
static int
MemoryValBatch(void *arg, int epoch, int batch, const float **rows)
{
	MemorySource *m = (MemorySource *) arg;
	size_t		start = (size_t) batch * m->bs;
	int			B;

	(void) epoch;
	if (start >= m->n_val)
		return 0;
	B = (int) (m->n_val - start < (size_t) m->bs ? m->n_val - start : (size_t) m->bs);
	Gather(m->X, m->d, m->idx + m->n_train + start, B, m->x_target);
	*rows = m->x_target;
	return B;
}

AeStatus
ae_train(AeModel *model, const AeTrainConfig *cfg, const float *X, size_t n,
		 const AeAllocator *al, AeBatchCallback cb, void *cb_arg,
		 AeTrainResult *result, char *errbuf)
{
	MemorySource m;
	AeBatchSource src;
	AeRng		seeder;
	AeStatus	st;

	ResetResult(result);
	st = ae_train_config_validate(cfg, model, errbuf);
	if (st == AE_OK)
		st = CheckData(X, n, model->dims[0], errbuf);
	if (st != AE_OK)
		return st;

	memset(&m, 0, sizeof(m));
	m.cfg = cfg;
	m.X = X;
	m.n = n;
	m.d = model->dims[0];
	m.al = al;
	m.errbuf = errbuf;
	/* the last share of a seeded permutation validates; at least one row trains */
	m.n_val = (size_t) floor((double) n * (double) cfg->validation_fraction);
	if (m.n_val >= n)
		m.n_val = n - 1;
	m.n_train = n - m.n_val;
	m.bs = ae_train_batch_rows(cfg, m.n_train);

	/* three independent streams, so that one option does not shift another's draws */
	ae_rng_seed(&seeder, cfg->seed);
	ae_rng_seed(&m.rng_split, ae_rng_next(&seeder));
	ae_rng_seed(&m.rng_shuffle, ae_rng_next(&seeder));
	ae_rng_seed(&m.rng_noise, ae_rng_next(&seeder));

	if ((m.idx = RunAlloc(al, errbuf, n * sizeof(uint32_t), "row index")) == NULL ||
		(m.x_target = RunAlloc(al, errbuf, (size_t) m.bs * m.d * sizeof(float), "batch buffer")) == NULL)
		st = AE_ERR_NOMEM;
	if (st == AE_OK)
		st = SplitRows(&m);
	if (st == AE_OK)
	{
		src.n_train = m.n_train;
		src.n_val = m.n_val;
		src.train_batch = MemoryTrainBatch;
		src.val_batch = MemoryValBatch;
		src.arg = &m;
		st = ae_train_batches(model, cfg, &src, &m.rng_noise, al, cb, cb_arg, result, errbuf);
	}
	ae_free(al, m.x_target);
	ae_free(al, m.idx);
	return st;
}
