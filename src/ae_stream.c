/*
 * ae_stream.c — ae_train with data 'stream': every epoch is a pass over the
 * relation instead of over an in-memory copy, so memory is bounded by the
 * shuffle buffer, a batch and the model, whatever the number of rows.
 *
 *   pass 1     count the rows, check them like the in-memory read, and the
 *              normalisation statistics (Welford's running mean and sum of
 *              squared deviations, in double; minimum and maximum)
 *   pass 2..   one per epoch: normalise each row, leave out the validation
 *              rows, feed the rest through the shuffle buffer into batches;
 *              with a validation split, a second pass after the epoch
 *              measures the validation loss (early stopping needs the
 *              weights at the end of the epoch)
 *   last pass  every row's reconstruction error into a seeded uniform
 *              sample of AE_QUANTILE_SAMPLE errors (algorithm R), whose
 *              quantiles are stored with the model
 *
 * The shuffle buffer holds S rows: the first S training rows fill it, then
 * each further row takes the place of a uniformly chosen one, which goes to
 * the batch; at the end of the pass what remains leaves in a fresh seeded
 * permutation.  A row can so move up to S places earlier and any number
 * later, but no further forward: the order of an epoch is a local shuffle
 * of the scan order, not a uniform permutation.  A table clustered by time
 * therefore trains roughly oldest first in every epoch, each batch mixing
 * rows from a window of about S rows; a buffer of a good share of the
 * table, or a table in random physical order, is what brings the batches
 * close to uniform samples.
 *
 * The validation split is a seeded hash of the row's values (as read, in
 * original units): a row is held out when the hash falls below
 * validation_fraction.  It depends neither on the physical order nor on
 * the other rows, so the same row stays on the same side when the table
 * is rewritten (VACUUM FULL, CLUSTER) or rows are added or deleted, and
 * duplicate rows all fall on one side.
 *
 * A shuffle buffer that can hold every row is the in-memory training: the
 * caller is told to read the rows into memory (AeStreamTrain returns
 * NULL), which makes that case equal to data 'memory' in every bit.
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "ae_defaults.h"
#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_optim.h"
#include "ae_rng.h"
#include "ae_sample.h"
#include "ae_train.h"
#include "ae_training.h"
#include "autoenc.h"

/* rows per forward pass when measuring the reconstruction errors */
#define AE_STREAM_ERROR_BATCH 256

typedef struct Stream
{
	AeData	   *data;
	AeTrainOptions *opts;
	const char *what;
	int			d;
	float	   *row;			/* (d) the current row */

	/* pass 1 */
	int64		n;				/* valid rows */
	int64		n_train;
	int64		n_val;
	bool		split;			/* some rows validate */
	uint64		split_seed;

	/* the network and its training */
	AeModel		model;
	AeTrainConfig cfg;
	float	   *offset;
	float	   *scale;
	float	   *feature_mean;
	int			bs;
	float	   *x_target;		/* (bs, d) the batch handed to the core */
	AeRng		rng_shuffle;
	AeRng		rng_noise;
	AeRng		rng_sample;

	/* the shuffle buffer (ae_sample.h) */
	int64		S;
	AeShuffleBuf buf;

	/* the pass under way (AeBatchSource) */
	AeScan	   *scan;			/* NULL once the relation is read to the end */
	size_t		n_left;			/* rows the drained buffer still holds */
	size_t		next_left;		/* the next of them to leave */
	AeTrainProgress progress;
} Stream;

/* ---------------------------------------------------------------- rows */

/*
 * The next valid row of scan into st->row; false at the end.  The rows
 * were checked in pass 1 under the same snapshot; invalid ones are skipped
 * silently afterwards.
 */
static bool
NextRow(Stream *st, AeScan *scan, bool first_pass)
{
	AeData	   *data = st->data;

	while (AeScanNext(scan))
	{
		AeRowCheck	check;
		int			width = 0;

		if (first_pass)
			data->n_read++;
		if (st->d == 0)
		{
			AeScanConvert(scan, 0, NULL, &width, &check, st->what);
			if (check.problem == AE_ROW_OK)
			{
				st->d = width;
				st->row = palloc(sizeof(float) * width);
			}
		}
		if (st->d > 0)
			AeScanConvert(scan, st->d, st->row, &width, &check, st->what);
		if (check.problem == AE_ROW_OK)
			return true;
		if (first_pass)
		{
			if (!st->opts->skip_invalid)
				AeReportRow(st->what, data->n_read, data->spec.input,
							data->spec.input ? NULL : data->spec.colnames, &check, st->d);
			data->n_skipped++;
		}
	}
	return false;
}

/* Does the current row (original units) validate? */
static bool
IsValidationRow(const Stream *st)
{
	uint64		h;

	if (!st->split)
		return false;
	h = hash_bytes_extended((const unsigned char *) st->row, sizeof(float) * st->d,
							st->split_seed);
	return (double) (h >> 11) * (1.0 / 9007199254740992.0) < st->opts->validation_fraction;
}

/* Normalise the current row in place; loss bce needs it in [0, 1]. */
static void
Normalise(Stream *st)
{
	for (int j = 0; j < st->d; j++)
	{
		float		v = (st->row[j] - st->offset[j]) / st->scale[j];

		if (st->opts->loss == AE_LOSS_BCE)
		{
			if (v < -1e-5f || v > 1.0f + 1e-5f)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("%s: loss \"bce\" needs inputs in [0, 1], but input %d of a row is %g after normalisation",
								st->what, j + 1, (double) v),
						 errhint("Use \"normalize\" => 'minmax'.")));
			v = Min(Max(v, 0.0f), 1.0f);
		}
		st->row[j] = v;
	}
}

/* ---------------------------------------------------------------- pass 1 */

static void
StatsPass(Stream *st, const AeBundle *warm)
{
	AeData	   *data = st->data;
	AeScan	   *scan = AeScanBegin(&data->spec, true);
	double	   *mean = NULL,
			   *m2 = NULL,
			   *lo = NULL,
			   *hi = NULL;

	while (NextRow(st, scan, true))
	{
		double		k;

		if (mean == NULL)
		{
			mean = palloc0(sizeof(double) * st->d);
			m2 = palloc0(sizeof(double) * st->d);
			lo = palloc(sizeof(double) * st->d);
			hi = palloc(sizeof(double) * st->d);
			for (int j = 0; j < st->d; j++)
				lo[j] = hi[j] = st->row[j];
		}
		st->n++;
		k = (double) st->n;
		for (int j = 0; j < st->d; j++)
		{
			double		x = st->row[j];
			double		delta = x - mean[j];

			/* Welford: no Σx² − n·mean² cancellation */
			mean[j] += delta / k;
			m2[j] += delta * (x - mean[j]);
			lo[j] = fmin(lo[j], x);
			hi[j] = fmax(hi[j], x);
		}
		if (IsValidationRow(st))
			st->n_val++;
	}
	AeScanEnd(scan);
	/* the later passes read the same rows the same way: one NOTICE is enough */
	data->spec.verbose = false;

	AeReportRowCounts(st->what, data->spec.relname, data->n_read, st->n, data->n_skipped);
	if (st->n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: at least 2 rows are needed, got " INT64_FORMAT, st->what, st->n)));
	if (st->n_val >= st->n)
	{
		/* every row hashed to the validation side (a handful of rows): train on all */
		st->split = false;
		st->n_val = 0;
	}
	st->n_train = st->n - st->n_val;

	data->d = st->d;
	AeTrainerResolve(st->opts, st->d, warm, &data->arch, st->what);

	st->offset = palloc(sizeof(float) * st->d);
	st->scale = palloc(sizeof(float) * st->d);
	for (int j = 0; j < st->d; j++)
	{
		st->offset[j] = 0.0f;
		st->scale[j] = 1.0f;
		if (st->opts->normalize == AE_NORM_MINMAX)
		{
			st->offset[j] = (float) lo[j];
			st->scale[j] = (float) (hi[j] - lo[j]);
		}
		else if (st->opts->normalize == AE_NORM_ZSCORE)
		{
			st->offset[j] = (float) mean[j];
			st->scale[j] = (float) sqrt(m2[j] / (double) st->n);
		}
		/* a constant column: scale 1, as ae_norm_fit does */
		if (hi[j] == lo[j] || !(st->scale[j] > 0.0f) || !isfinite(st->scale[j]))
			st->scale[j] = 1.0f;
	}
	if (warm)
	{
		memcpy(st->offset, warm->norm_offset, sizeof(float) * st->d);
		memcpy(st->scale, warm->norm_scale, sizeof(float) * st->d);
	}
	/* feature means in original units, for imputing missing values later */
	st->feature_mean = palloc(sizeof(float) * st->d);
	for (int j = 0; j < st->d; j++)
		st->feature_mean[j] = (float) mean[j];
	st->progress.n_rows = st->n_train;
}

/* ---------------------------------------------------------------- training */

static void
AllocTraining(Stream *st, const AeBundle *warm)
{
	AeTrainOptions *opts = st->opts;
	const AeArch *arch = &st->data->arch;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	float	   *params;
	AeRng		seeder;
	Size		fixed;
	double		buffer_bytes;
	int64		S;

	params = palloc_extended(sizeof(float) * Max(ae_arch_param_count(arch), 1), MCXT_ALLOC_HUGE);
	ae_check_status(ae_model_bind(&st->model, arch, params, errbuf), errbuf, st->what);
	if (warm)
		memcpy(params, warm->params, sizeof(float) * st->model.n_params);
	else
		ae_model_init_weights(&st->model, (uint64_t) opts->seed);
	AeTrainerFillConfig(&st->cfg, opts);
	ae_check_status(ae_train_config_validate(&st->cfg, &st->model, errbuf), errbuf, st->what);

	st->bs = ae_train_batch_rows(&st->cfg, (size_t) st->n_train);

	/* the shuffle buffer: as asked, else AE_DEFAULT_SHUFFLE_BUFFER_BYTES of rows */
	fixed = AeTrainerFixedBytes(opts, arch);
	if (opts->shuffle_buffer > 0)
		S = opts->shuffle_buffer;
	else
	{
		/* the default, or half of what the budget leaves when that is less */
		double		left = (double) ae_max_train_memory_kb * 1024.0 - (double) fixed -
			(double) AE_QUANTILE_SAMPLE * sizeof(float);

		S = (int64) (Min(AE_DEFAULT_SHUFFLE_BUFFER_BYTES, Max(left, 0) / 2) /
					 (sizeof(float) * st->d + sizeof(uint32)));
	}
	S = Max(S, st->bs);
	S = Min(S, st->n_train);
	if (!opts->shuffle)
		S = 0;
	st->S = S;

	/* the budget: the model and its training, the buffer, the error sample */
	buffer_bytes = (double) S * (sizeof(float) * st->d + sizeof(uint32)) +
		(double) AE_QUANTILE_SAMPLE * sizeof(float);
	if ((double) fixed + buffer_bytes > (double) ae_max_train_memory_kb * 1024.0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("streaming training needs more memory than autoenc.max_train_memory allows"),
				 errdetail("A shuffle buffer of " INT64_FORMAT " rows and the model need about %.0f kB; autoenc.max_train_memory is %d kB.",
						   S, ceil(((double) fixed + buffer_bytes) / 1024.0), ae_max_train_memory_kb),
				 errhint("Lower shuffle_buffer, or raise autoenc.max_train_memory.")));

	st->x_target = palloc(sizeof(float) * st->bs * st->d);
	if (S > 0)
		ae_shufbuf_init(&st->buf, palloc_extended(sizeof(float) * (Size) S * st->d, MCXT_ALLOC_HUGE),
						palloc_extended(sizeof(uint32) * (Size) S, MCXT_ALLOC_HUGE),
						(size_t) S, st->d, &st->rng_shuffle);

	/* streams of their own, as in the core: one option does not shift another's draws */
	ae_rng_seed(&seeder, (uint64_t) opts->seed ^ UINT64CONST(0x53545245414D0001));
	ae_rng_seed(&st->rng_shuffle, ae_rng_next(&seeder));
	ae_rng_seed(&st->rng_noise, ae_rng_next(&seeder));
	ae_rng_seed(&st->rng_sample, ae_rng_next(&seeder));
}

/*
 * The next row of the pass under way that is on the wanted side of the
 * split (validation or training), normalised, in st->row; false at the
 * end of the pass, which closes the scan.
 */
static bool
NextPassRow(Stream *st, bool validation)
{
	while (st->scan)
	{
		if (!NextRow(st, st->scan, false))
		{
			AeScanEnd(st->scan);
			st->scan = NULL;
			break;
		}
		if (IsValidationRow(st) == validation)
		{
			Normalise(st);
			return true;
		}
	}
	return false;
}

/*
 * AeBatchSource.train_batch: the next batch of an epoch's training rows.
 * Batch 0 starts a pass over the relation; each training row goes through
 * the shuffle buffer (or straight into the batch without shuffle); at the
 * end of the pass what the buffer holds leaves in a fresh permutation.
 */
static int
StreamTrainBatch(void *arg, int epoch, int batch, const float **rows)
{
	Stream	   *st = (Stream *) arg;
	int			B = 0;

	if (batch == 0)
	{
		st->scan = AeScanBegin(&st->data->spec, true);
		st->n_left = st->next_left = 0;
	}
	while (B < st->bs)
	{
		float	   *slot = st->x_target + (size_t) B * st->d;

		if (st->scan)
		{
			if (!NextPassRow(st, false))
			{
				if (st->S > 0)
					st->n_left = ae_shufbuf_drain(&st->buf);
			}
			else if (st->S == 0)
			{
				memcpy(slot, st->row, sizeof(float) * st->d);
				B++;
			}
			else if (ae_shufbuf_push(&st->buf, st->row, slot))
				B++;
		}
		else if (st->next_left < st->n_left)
		{
			memcpy(slot, st->buf.rows + (size_t) st->buf.perm[st->next_left++] * st->d,
				   sizeof(float) * st->d);
			B++;
		}
		else
			break;
	}
	*rows = st->x_target;
	return B;
}

/* AeBatchSource.val_batch: the validation rows, a pass over the relation after each epoch. */
static int
StreamValBatch(void *arg, int epoch, int batch, const float **rows)
{
	Stream	   *st = (Stream *) arg;
	int			B = 0;

	if (batch == 0)
		st->scan = AeScanBegin(&st->data->spec, true);
	while (B < st->bs && NextPassRow(st, true))
		memcpy(st->x_target + (size_t) B++ * st->d, st->row, sizeof(float) * st->d);
	*rows = st->x_target;
	return B;
}

/* The core's progress callback, and the last pass (errors) counted as one more epoch's time. */
static bool
StreamProgress(void *arg, int epoch, int batch, int n_batches, const AeEpochStats *done)
{
	AeTrainProgress *p = (AeTrainProgress *) arg;

	if (done)
		p->fixed_left = done->seconds;
	return AeTrainerProgress(p, epoch, batch, n_batches, done);
}

/* The epochs: the core's loop (ae_train_batches) over passes of the relation. */
static void
RunEpochs(Stream *st, AeTrainResult *result)
{
	AeBatchSource src;
	char		errbuf[AE_ERRBUF_SIZE] = "";

	src.n_train = (size_t) st->n_train;
	src.n_val = (size_t) st->n_val;
	src.train_batch = StreamTrainBatch;
	src.val_batch = StreamValBatch;
	src.arg = st;
	ae_check_status(ae_train_batches(&st->model, &st->cfg, &src, &st->rng_noise,
									 &ae_palloc_allocator, StreamProgress, &st->progress,
									 result, errbuf),
					errbuf, st->what);
}

/* ---------------------------------------------------------------- the errors */

/*
 * Every row's reconstruction error (normalised units, as the in-memory
 * training measures it) into a seeded reservoir; its quantiles go into
 * the bundle.  With k = AE_QUANTILE_SAMPLE sampled errors the stored
 * quantile at probability p has a rank error of about sqrt(p(1-p)/k)
 * (at most 0.0016 for k = 100 000); by the Dvoretzky–Kiefer–Wolfowitz
 * inequality every one of them is within 0.0061 in rank at once with
 * probability 0.9995.  Up to k rows, the sample is every row and the
 * quantiles are exact.
 */
static void
Calibrate(Stream *st, AeBundle *bundle)
{
	int64		k = AE_QUANTILE_SAMPLE;
	float	   *sample = palloc(sizeof(float) * k);
	AeReservoir reservoir;
	float	   *sq = palloc(sizeof(float) * AE_STREAM_ERROR_BATCH * st->d);
	float	   *scratch = palloc(sizeof(float) * Max(ae_forward_scratch_size(&st->model, AE_STREAM_ERROR_BATCH), 1));
	float	   *batch = palloc(sizeof(float) * AE_STREAM_ERROR_BATCH * st->d);
	double		probs[AE_BUNDLE_N_QUANTILES + 1];
	double		q[AE_BUNDLE_N_QUANTILES + 1];
	AeScan	   *scan = AeScanBegin(&st->data->spec, true);
	int			B = 0;

	ae_reservoir_init(&reservoir, sample, (size_t) k, &st->rng_sample);
	for (;;)
	{
		bool		more = NextRow(st, scan, false);

		if (more)
		{
			Normalise(st);
			memcpy(batch + (size_t) B++ * st->d, st->row, sizeof(float) * st->d);
		}
		if (B == AE_STREAM_ERROR_BATCH || (!more && B > 0))
		{
			ae_feature_sqerr(&st->model, batch, B, sq, scratch);
			for (int b = 0; b < B; b++)
			{
				double		sum = 0;
				float		e;

				for (int j = 0; j < st->d; j++)
					sum += sq[(size_t) b * st->d + j];
				e = (float) (sum / st->d);
				ae_reservoir_add(&reservoir, e);
			}
			B = 0;
		}
		if (!more)
			break;
	}
	AeScanEnd(scan);

	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		probs[i] = i / (double) (AE_BUNDLE_N_QUANTILES - 1);
	probs[AE_BUNDLE_N_QUANTILES] = 1.0 - st->opts->contamination;
	ae_quantiles(sample, ae_reservoir_size(&reservoir), probs, AE_BUNDLE_N_QUANTILES + 1, q);
	memcpy(bundle->quantiles, q, sizeof(double) * AE_BUNDLE_N_QUANTILES);
	bundle->threshold = q[AE_BUNDLE_N_QUANTILES];
	bundle->contamination = st->opts->contamination;
}

/* ---------------------------------------------------------------- entry */

AeBundle *
AeStreamTrain(AeData *data, AeTrainOptions *opts, const AeBundle *warm,
			  const char *what, AeTrainerReport *report)
{
	Stream		st;
	AeBundle   *bundle;
	AeTrainResult result;
	int64		S;

	memset(&st, 0, sizeof(st));
	st.data = data;
	st.opts = opts;
	st.what = what;
	st.split = opts->validation_fraction > 0;
	st.split_seed = (uint64) opts->seed ^ UINT64CONST(0x53504C4954000001);

	if (opts->max_rows > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: option \"max_rows\" needs data 'memory'", what),
				 errdetail("A sample of max_rows rows is trained in memory."),
				 errhint("Leave out max_rows to stream every row, or data to train on the sample.")));

	StatsPass(&st, warm);

	/* a buffer that holds every row: the in-memory training, exactly */
	S = opts->shuffle_buffer > 0 ? opts->shuffle_buffer :
		(int64) (AE_DEFAULT_SHUFFLE_BUFFER_BYTES / (sizeof(float) * st.d));
	if (opts->shuffle && S >= st.n)
	{
		if (opts->verbose)
			ereport(NOTICE,
					(errmsg("the shuffle buffer holds all " INT64_FORMAT " rows: training in memory", st.n)));
		return NULL;
	}

	st.progress.verbose = opts->verbose;
	st.progress.epochs = opts->epochs;
	AllocTraining(&st, warm);
	RunEpochs(&st, &result);

	bundle = palloc0(sizeof(AeBundle));
	Calibrate(&st, bundle);

	opts->data = AE_DATA_STREAM;
	opts->shuffle_buffer = st.S;
	bundle->feature_mean = st.feature_mean;
	bundle->norm_method = (AeNormMethod) opts->normalize;
	bundle->norm_offset = st.offset;
	bundle->norm_scale = st.scale;
	bundle->arch = data->arch;
	bundle->params = st.model.params;
	bundle->n_rows = st.n;
	bundle->epochs_run = result.epochs_run;
	bundle->train_loss = result.train_loss;
	bundle->val_loss = st.n_val > 0 ? result.val_loss : NAN;
	bundle->n_history = result.epochs_run;
	bundle->history = result.history;
	bundle->config_json = AeOptionsToJson(opts);
	bundle->n_columns = data->n_columns;
	bundle->columns = data->n_columns > 0 ? data->columns : NULL;
	bundle->columns_len = data->n_columns > 0 ? data->columns_len : 0;

	report->rows_used = st.n;
	report->epochs_run = result.epochs_run;
	report->train_loss = bundle->train_loss;
	report->val_loss = bundle->val_loss;
	return bundle;
}
