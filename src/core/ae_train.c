/*
 * ae_train.c — the training loop: split, shuffle, minibatches, denoising
 * corruption, optimiser steps, validation, early stopping, history.
 *
 * Everything a batch needs is allocated before the first epoch; the inner
 * loop gathers the batch's rows into one contiguous buffer (a memcpy per
 * row), corrupts a copy for denoising, and hands both to the network and the
 * optimiser.  Its own overhead is one pass over the batch and one over the
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
	if (cfg->patience < 0)
	{
		snprintf(errbuf, AE_ERRBUF_SIZE,
				 "patience must be >= 0 (0 disables early stopping), got %d",
				 cfg->patience);
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

/*
 * True when none of x[0..n) is NaN or infinite.  A float is non-finite
 * exactly when its exponent bits are all ones; OR-ing that test over blocks
 * keeps the loop free of branches, so one pass over the data costs little
 * more than reading it.
 */
static bool
AllFinite(const float *x, size_t n)
{
	const uint32_t exp_mask = UINT32_C(0x7f800000);
	size_t		i = 0;

	while (i < n)
	{
		size_t		end = n - i < 4096 ? n : i + 4096;
		uint32_t	bad = 0;

		for (; i < end; i++)
		{
			uint32_t	bits;

			memcpy(&bits, &x[i], sizeof(bits));
			bad |= (uint32_t) ((bits & exp_mask) == exp_mask);
		}
		if (bad)
			return false;
	}
	return true;
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

/*
 * Row-weighted mean reconstruction loss of the rows idx[0..n_rows), clean
 * input and target, in chunks the workspace can hold.  Regularisers are
 * switched off: early stopping should judge reconstruction, and the
 * contractive Jacobian would cost more than the forward pass.  ws must have
 * been made without the contractive penalty.
 */
static AeStatus
ValidationLoss(const AeModel *model, AeWorkspace *ws, const AeObjective *obj,
			   const float *X, const uint32_t *idx, size_t n_rows, int chunk,
			   float *buf, AeRng *rng, double *loss)
{
	AeObjective plain = *obj;
	double		sum = 0.0;
	int			d = model->dims[0];

	plain.l1_activity = 0.0f;
	plain.sparsity_weight = 0.0f;
	plain.contractive = 0.0f;
	plain.noise = AE_NOISE_NONE;

	for (size_t start = 0; start < n_rows; start += chunk)
	{
		int			B = (int) (n_rows - start < (size_t) chunk ? n_rows - start : (size_t) chunk);
		AeLossParts parts;
		AeStatus	st;

		Gather(X, d, idx + start, B, buf);
		st = ae_loss_only(model, ws, &plain, buf, buf, B, &parts, rng);
		if (st != AE_OK)
			return st;
		sum += parts.recon * B;
	}
	*loss = sum / (double) n_rows;
	return isfinite(*loss) ? AE_OK : AE_ERR_NONFINITE;
}

AeStatus
ae_train(AeModel *model, const AeTrainConfig *cfg, const float *X, size_t n,
		 const AeAllocator *al, AeBatchCallback cb, void *cb_arg,
		 AeTrainResult *result, char *errbuf)
{
	const AeObjective *obj = &cfg->objective;
	const int	d = model->dims[0];
	const size_t np = model->n_params;
	const bool	noisy = obj->noise != AE_NOISE_NONE;
	AeStatus	st;
	AeOptimizer opt;
	bool		opt_made = false;
	AeWorkspace *ws = NULL,
			   *ws_val = NULL;
	uint32_t   *idx = NULL;
	uint8_t    *is_val = NULL;
	float	   *x_target = NULL,
			   *x_input = NULL,
			   *grad = NULL,
			   *best = NULL;
	AeEpochStats *history = NULL;
	AeRng		seeder,
				rng_split,
				rng_shuffle,
				rng_noise;
	size_t		n_val,
				n_train;
	int			bs,
				n_batches,
				best_epoch = 0,
				epoch;
	double		best_score = INFINITY;

	memset(result, 0, sizeof(*result));
	result->train_loss = NAN;
	result->val_loss = NAN;

	st = ae_train_config_validate(cfg, model, errbuf);
	if (st != AE_OK)
		return st;
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
	if (!AllFinite(X, n * (size_t) d))
	{
		size_t		i = 0;

		while (isfinite(X[i]))
			i++;
		snprintf(errbuf, AE_ERRBUF_SIZE,
				 "row %zu, column %d of the training data is not finite (NaN or infinity)",
				 i / d + 1, (int) (i % d) + 1);
		return AE_ERR_DATA;
	}

	/* the last share of a seeded permutation validates; at least one row trains */
	n_val = (size_t) floor((double) n * (double) cfg->validation_fraction);
	if (n_val >= n)
		n_val = n - 1;
	n_train = n - n_val;
	bs = cfg->batch_size < (long) n_train ? cfg->batch_size : (int) n_train;
	n_batches = (int) ((n_train + bs - 1) / bs);

	ae_rng_seed(&seeder, cfg->seed);
	ae_rng_seed(&rng_split, ae_rng_next(&seeder));
	ae_rng_seed(&rng_shuffle, ae_rng_next(&seeder));
	ae_rng_seed(&rng_noise, ae_rng_next(&seeder));

	/* ------------------------------------------------ allocations, all up front */
#define AE_TRY_ALLOC(ptr, bytes) \
	do { (ptr) = ae_alloc(al, (bytes)); if ((ptr) == NULL) { st = AE_ERR_NOMEM; goto done; } } while (0)

	AE_TRY_ALLOC(idx, n * sizeof(uint32_t));
	AE_TRY_ALLOC(x_target, (size_t) bs * d * sizeof(float));
	if (noisy)
		AE_TRY_ALLOC(x_input, (size_t) bs * d * sizeof(float));
	AE_TRY_ALLOC(grad, (np > 0 ? np : 1) * sizeof(float));
	if (cfg->patience > 0)
		AE_TRY_ALLOC(best, (np > 0 ? np : 1) * sizeof(float));
	AE_TRY_ALLOC(history, (size_t) cfg->epochs * sizeof(AeEpochStats));
	ws = ae_workspace_create(model, obj, bs, al);
	if (ws == NULL)
	{
		st = AE_ERR_NOMEM;
		goto done;
	}
	/* validation skips the contractive penalty, and a workspace fits one setting */
	ws_val = ws;
	if (n_val > 0 && obj->contractive > 0.0f)
	{
		ws_val = ae_workspace_create(model, NULL, bs, al);
		if (ws_val == NULL)
		{
			st = AE_ERR_NOMEM;
			goto done;
		}
	}
	st = ae_optim_create(&opt, &cfg->optim, np, al);
	if (st != AE_OK)
		goto done;
	opt_made = true;
#undef AE_TRY_ALLOC

	/*
	 * Split.  Both sides are then put back in table order: without shuffle
	 * the training rows are seen in the order given, and validation gathers
	 * read memory forwards.
	 */
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t) i;
	if (n_val > 0)
	{
		size_t		t = 0,
					v = n_train;

		ae_rng_shuffle(&rng_split, idx, (uint32_t) n);
		is_val = ae_alloc(al, n);
		if (is_val == NULL)
		{
			st = AE_ERR_NOMEM;
			goto done;
		}
		memset(is_val, 0, n);
		for (size_t i = n_train; i < n; i++)
			is_val[idx[i]] = 1;
		for (size_t i = 0; i < n; i++)
		{
			if (is_val[i])
				idx[v++] = (uint32_t) i;
			else
				idx[t++] = (uint32_t) i;
		}
		ae_free(al, is_val);
		is_val = NULL;
	}

	/* ------------------------------------------------------------ epochs */
	for (epoch = 1; epoch <= cfg->epochs; epoch++)
	{
		AeEpochStats *stats = &history[epoch - 1];
		double		t0 = Now(),
					loss_sum = 0.0,
					score;
		bool		stop = false;

		if (cfg->shuffle)
			ae_rng_shuffle(&rng_shuffle, idx, (uint32_t) n_train);

		for (int batch = 0; batch < n_batches; batch++)
		{
			size_t		start = (size_t) batch * bs;
			int			B = (int) (n_train - start < (size_t) bs ? n_train - start : (size_t) bs);
			const float *x_tgt = x_target;
			const float *x_in;
			AeLossParts parts;
			bool		last = batch == n_batches - 1;

			/*
			 * Without shuffle the training rows are in increasing order, so
			 * a batch whose first and last rows are B - 1 apart is a
			 * contiguous block of X and needs no copy.
			 */
			if (!cfg->shuffle && idx[start + B - 1] - idx[start] == (uint32_t) (B - 1))
				x_tgt = X + (size_t) idx[start] * d;
			else
				Gather(X, d, idx + start, B, x_target);
			x_in = x_tgt;
			if (noisy)
			{
				/* fresh noise every batch; the target stays clean */
				ae_corrupt(obj, &rng_noise, x_tgt, x_input, (size_t) B * d);
				x_in = x_input;
			}
			st = ae_loss_grad(model, ws, obj, x_in, x_tgt, B, grad, &parts, &rng_noise);
			if (st == AE_OK && !isfinite(parts.total))
				st = AE_ERR_NONFINITE;
			if (st != AE_OK)
			{
				if (st == AE_ERR_NONFINITE)
					snprintf(errbuf, AE_ERRBUF_SIZE,
							 "the training loss became non-finite in epoch %d, batch %d of %d; "
							 "a lower learning_rate or a clip_norm may help",
							 epoch, batch + 1, n_batches);
				else
					snprintf(errbuf, AE_ERRBUF_SIZE, "%s in epoch %d, batch %d of %d",
							 ae_status_string(st), epoch, batch + 1, n_batches);
				goto done;
			}
			ae_optim_step(&opt, model->params, grad, NULL);
			loss_sum += parts.total * B;

			if (last)
			{
				stats->epoch = epoch;
				stats->train_loss = loss_sum / (double) n_train;
				stats->val_loss = NAN;
				if (n_val > 0)
				{
					st = ValidationLoss(model, ws_val, obj, X, idx + n_train, n_val, bs,
										x_target, &rng_noise, &stats->val_loss);
					if (st == AE_ERR_NONFINITE)
						snprintf(errbuf, AE_ERRBUF_SIZE,
								 "the validation loss became non-finite after epoch %d; "
								 "a lower learning_rate or a clip_norm may help", epoch);
					else if (st != AE_OK)
						snprintf(errbuf, AE_ERRBUF_SIZE, "%s while validating after epoch %d",
								 ae_status_string(st), epoch);
					if (st != AE_OK)
						goto done;
				}
				stats->seconds = Now() - t0;
				result->epochs_run = epoch;

				/*
				 * Early stopping watches the validation loss, or the
				 * training loss when nothing was held out.  Only a strict
				 * improvement resets the patience.
				 */
				score = n_val > 0 ? stats->val_loss : stats->train_loss;
				if (score < best_score)
				{
					best_score = score;
					best_epoch = epoch;
					if (best)
						memcpy(best, model->params, np * sizeof(float));
				}
				else if (cfg->patience > 0 && epoch - best_epoch >= cfg->patience)
					stop = true;
			}

			if (cb && !cb(cb_arg, epoch, batch + 1, n_batches, last ? stats : NULL))
			{
				snprintf(errbuf, AE_ERRBUF_SIZE, "training was canceled in epoch %d, batch %d of %d",
						 epoch, batch + 1, n_batches);
				st = AE_ERR_CANCELED;
				goto done;
			}
		}
		ae_optim_epoch_end(&opt);
		if (stop)
			break;
	}

	/*
	 * With early stopping on, the best epoch's weights are kept whether the
	 * patience ran out or the epochs did; without it, the last epoch's.
	 */
	if (best && best_epoch != result->epochs_run)
		memcpy(model->params, best, np * sizeof(float));
	else if (!best)
		best_epoch = result->epochs_run;
	result->best_epoch = best_epoch;
	result->n_train = n_train;
	result->n_val = n_val;
	result->train_loss = history[best_epoch - 1].train_loss;
	result->val_loss = history[best_epoch - 1].val_loss;
	result->history = history;
	history = NULL;
	st = AE_OK;

done:
	if (opt_made)
		ae_optim_destroy(&opt, al);
	if (ws_val && ws_val != ws)
		ae_workspace_destroy(ws_val, al);
	if (ws)
		ae_workspace_destroy(ws, al);
	ae_free(al, history);
	ae_free(al, best);
	ae_free(al, grad);
	ae_free(al, x_input);
	ae_free(al, x_target);
	ae_free(al, is_val);
	ae_free(al, idx);
	return st;
}
