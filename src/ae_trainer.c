/*
 * ae_trainer.c — the one training path behind ae_train() and ae_fit: a
 * float matrix and an option set in, a model bundle out.
 *
 *   1. resolve the options that depend on the data (hidden widths from the
 *      input width) or on the model a warm start continues from
 *   2. sort the rows into a canonical order, so the model depends on the set
 *      of rows and the seed, never on the order they were read in (a
 *      parallel aggregate gathers them in any order)
 *   3. feature means in original units; fit and apply the normalisation
 *   4. initialise (or warm-start) the weights and train with the core,
 *      checking for cancel after every batch
 *   5. the reconstruction error of every row → 101 quantiles and the
 *      anomaly threshold
 *
 * The caller runs this in a memory context of its own and deletes it
 * afterwards, which frees everything on error too.  The few pfree calls
 * here release large scratch buffers (sort permutation, error batches)
 * as soon as a step is done, so that they do not stay allocated beside the
 * next step's and push the peak past the memory budget's estimate.
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "utils/memutils.h"

#include "ae_defaults.h"
#include "ae_nn.h"
#include "ae_norm.h"
#include "ae_optim.h"
#include "ae_train.h"
#include "ae_training.h"
#include "autoenc.h"

/* rows per forward pass when measuring the reconstruction errors */
#define AE_ERROR_BATCH 256

/* ---------------------------------------------------------------- options */

static char *
WidthsText(const int *widths, int n)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '[');
	for (int i = 0; i < n; i++)
		appendStringInfo(&s, "%s%d", i ? ", " : "", widths[i]);
	appendStringInfoChar(&s, ']');
	return s.data;
}

static void
WarmMismatch(const char *what, const char *option, const char *given, const char *stored)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s: option \"%s\" is %s, but the stored model has %s",
					what, option, given, stored),
			 errdetail("A warm start continues from the stored weights, so the shape and the normalisation must stay the same."),
			 errhint("Leave the option out to keep the stored value, or train without warm_start.")));
}

/*
 * The default hidden widths for input width d: an hourglass
 * [ceil(d/2), ceil(d/4), ceil(d/2)] with every width at least 2 and the code
 * at least 1 (d = 30 gives [15, 8, 15]).
 */
static void
DefaultHidden(AeTrainOptions *opts, int d)
{
	int			outer = Max((d + 1) / 2, 2);
	int			code = Max((d + 3) / 4, 1);

	opts->n_hidden = 3;
	opts->hidden[0] = outer;
	opts->hidden[1] = code;
	opts->hidden[2] = outer;
}

void
AeTrainerCheckWarmColumns(const AeBundle *warm, int n_columns, const char *columns,
						  size_t columns_len, const char *what)
{
	bool		same = warm->n_columns == n_columns &&
		(n_columns == 0 ||
		 (warm->columns_len == columns_len && memcmp(warm->columns, columns, columns_len) == 0));

	if (!same)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the stored model was trained on %s", what,
						warm->n_columns > 0 ? "other columns" : "an input array"),
				 errdetail("A warm start must read the same input as the stored model."),
				 errhint("Compare with the model's columns in ae_models.")));
}

void
AeTrainerResolve(AeTrainOptions *opts, int d, const AeBundle *warm,
				 AeArch *arch, const char *what)
{
	char		errbuf[AE_ERRBUF_SIZE] = "";

	/* binary cross-entropy needs targets and outputs in [0, 1] */
	if (opts->loss == AE_LOSS_BCE)
	{
		if (!opts->set[AE_OPTION_OUTPUT_ACTIVATION])
			opts->output_activation = AE_ACT_SIGMOID;
		if (!opts->set[AE_OPTION_NORMALIZE])
			opts->normalize = AE_NORM_MINMAX;
		if (opts->normalize == AE_NORM_ZSCORE)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: loss \"bce\" needs inputs in [0, 1], which normalize \"zscore\" does not give",
							what),
					 errhint("Use \"normalize\" => 'minmax', or 'none' for data already in [0, 1].")));
	}

	if (warm)
	{
		const AeArch *w = &warm->arch;

		if (w->n_inputs != d)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: the data have %d inputs, but the stored model has %d",
							what, d, w->n_inputs),
					 errdetail("A warm start continues from the stored weights, so the shape must stay the same.")));
		if (opts->set[AE_OPTION_HIDDEN] &&
			(opts->n_hidden != w->n_hidden ||
			 memcmp(opts->hidden, w->hidden, sizeof(int) * w->n_hidden) != 0))
			WarmMismatch(what, "hidden", WidthsText(opts->hidden, opts->n_hidden),
						 WidthsText(w->hidden, w->n_hidden));
		opts->n_hidden = w->n_hidden;
		memcpy(opts->hidden, w->hidden, sizeof(int) * w->n_hidden);

		for (int i = 0; i < w->n_hidden; i++)
			if (opts->set[AE_OPTION_ACTIVATION] && w->hidden_act[i] != opts->activation)
				WarmMismatch(what, "activation", ae_activation_name(opts->activation),
							 ae_activation_name(w->hidden_act[i]));
		opts->activation = w->hidden_act[0];
		if (opts->set[AE_OPTION_OUTPUT_ACTIVATION] && w->output_act != opts->output_activation)
			WarmMismatch(what, "output_activation", ae_activation_name(opts->output_activation),
						 ae_activation_name(w->output_act));
		opts->output_activation = w->output_act;
		if (opts->set[AE_OPTION_TIED_WEIGHTS] && w->tied != opts->tied_weights)
			WarmMismatch(what, "tied_weights", opts->tied_weights ? "true" : "false",
						 w->tied ? "true" : "false");
		opts->tied_weights = w->tied;
		if (opts->set[AE_OPTION_CODE_LAYER] && w->code_layer != opts->code_layer)
			WarmMismatch(what, "code_layer", psprintf("%d", opts->code_layer),
						 psprintf("%d", w->code_layer));
		opts->code_layer = w->code_layer;
		if ((opts->set[AE_OPTION_NORMALIZE] || opts->loss == AE_LOSS_BCE) &&
			warm->norm_method != (AeNormMethod) opts->normalize)
			WarmMismatch(what, "normalize", ae_norm_name(opts->normalize),
						 ae_norm_name(warm->norm_method));
		opts->normalize = warm->norm_method;

		*arch = *w;
	}
	else
	{
		if (!opts->set[AE_OPTION_HIDDEN])
			DefaultHidden(opts, d);
		ae_arch_make(arch, d, opts->n_hidden, opts->hidden,
					 (AeActivation) opts->activation,
					 (AeActivation) opts->output_activation, opts->tied_weights);
		if (opts->set[AE_OPTION_CODE_LAYER])
		{
			if (opts->code_layer >= opts->n_hidden)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"code_layer\" must be between 0 and %d (a 0-based position in hidden), got %d",
								opts->n_hidden - 1, opts->code_layer)));
			arch->code_layer = opts->code_layer;
		}
		opts->code_layer = arch->code_layer;
	}
	ae_check_status(ae_arch_validate(arch, errbuf), errbuf, what);

	/* the optimizer's defaults (torch.optim's), from the one table */
	if (!opts->set[AE_OPTION_LEARNING_RATE])
		opts->learning_rate = AE_DEFAULT_LEARNING_RATE(opts->optimizer);
	if (!opts->set[AE_OPTION_WEIGHT_DECAY])
		opts->weight_decay = AE_DEFAULT_WEIGHT_DECAY(opts->optimizer);
}

/* ---------------------------------------------------------------- memory budget */

/*
 * param_copies vectors of the parameters and the work space of a batch
 * (activations, pre-activations, deltas and the batch itself for every
 * layer; twice that again for the contractive penalty's tangents).
 */
double
AeTrainerNetworkBytes(const AeArch *arch, int batch, bool contractive, int param_copies)
{
	double		units = 2.0 * arch->n_inputs;
	double		bytes;

	for (int i = 0; i < arch->n_hidden; i++)
		units += arch->hidden[i];
	bytes = (double) param_copies * (double) ae_arch_param_count(arch) * sizeof(float);
	bytes += (double) batch * units * 4.0 * sizeof(float) * (contractive ? 3.0 : 1.0);
	bytes += (double) batch * ae_arch_widest(arch) * 2.0 * sizeof(float);
	return bytes;
}

/*
 * What a training needs besides its rows: the network with seven parameter
 * vectors (the parameters, their gradient, up to two optimizer moments, the
 * early-stopping copy, the warm-start copy and the serialized bundle), the
 * history and bookkeeping.
 */
Size
AeTrainerFixedBytes(const AeTrainOptions *opts, const AeArch *arch)
{
	double		bytes = AeTrainerNetworkBytes(arch, Max(opts->batch_size, AE_ERROR_BATCH),
											  opts->contractive > 0, 7);

	bytes += (double) opts->epochs * sizeof(AeEpochStats);	/* history */
	bytes += 64 * 1024;			/* bookkeeping, configuration text */
	return bytes > (double) SIZE_MAX / 2 ? SIZE_MAX / 2 : (Size) bytes;
}

/*
 * Per row: the row itself, its sort and shuffle indexes, its reconstruction
 * error, and whatever the caller holds per row besides (extra_per_row).
 */
Size
AeTrainerRowBytes(int d, Size extra_per_row)
{
	return (Size) d * sizeof(float) + 3 * sizeof(uint32) + sizeof(float) + extra_per_row;
}

Size
AeTrainerBudgetBytes(void)
{
	return (Size) ae_max_train_memory_kb * 1024;
}

int64
AeTrainerMaxRows(Size fixed, Size per_row)
{
	Size		budget = AeTrainerBudgetBytes();

	if (fixed >= budget)
		return 0;
	return (int64) ((budget - fixed) / per_row);
}

int64
AeTrainerGrowCap(Size fixed, Size per_row, Size row_bytes,
				 int64 old_cap, int64 need, int64 limit)
{
	/* what fits with the old buffer still alive */
	int64		fits = AeTrainerMaxRows(fixed + (Size) old_cap * row_bytes, per_row);
	int64		cap = Min(Min(Max(Max(old_cap * 2, need), 64), limit), fits);

	if (cap < need)
		AeTrainerCheckMemory(fixed + (Size) old_cap * row_bytes, per_row, need); /* raises */
	return cap;
}

void
AeTrainerCheckMemory(Size fixed, Size per_row, int64 n_rows)
{
	double		need = (double) fixed + (double) per_row * (double) n_rows;

	if (need > (double) AeTrainerBudgetBytes())
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("training needs more memory than autoenc.max_train_memory allows"),
				 errdetail_plural("%lld row needs about %.0f kB; autoenc.max_train_memory is %d kB.",
								  "%lld rows need about %.0f kB; autoenc.max_train_memory is %d kB.",
								  (unsigned long) n_rows,
								  (long long) n_rows, ceil(need / 1024.0), ae_max_train_memory_kb),
				 errhint("Raise autoenc.max_train_memory, or train on a sample with max_rows.")));
}

/* ---------------------------------------------------------------- canonical order */

typedef struct RowSortArg
{
	const float *X;
	int			d;
} RowSortArg;

/* Lexicographic by value; bit patterns break ties between -0 and 0. */
static int
CompareRows(const void *a, const void *b, void *arg)
{
	const RowSortArg *s = (const RowSortArg *) arg;
	const float *ra = s->X + (size_t) *(const uint32 *) a * s->d;
	const float *rb = s->X + (size_t) *(const uint32 *) b * s->d;

	for (int j = 0; j < s->d; j++)
	{
		if (ra[j] < rb[j])
			return -1;
		if (ra[j] > rb[j])
			return 1;
	}
	return memcmp(ra, rb, sizeof(float) * s->d);
}

/*
 * An order-preserving integer image of a float: a < b (as floats) exactly
 * when key(a) < key(b), and -0 and 0 have the same key, as they compare
 * equal.  The values are finite (checked when read).
 */
static inline uint32
FloatKey(float v)
{
	uint32		u;

	memcpy(&u, &v, sizeof(u));
	if (u == 0x80000000)
		u = 0;
	return (u & 0x80000000) ? ~u : (u | 0x80000000);
}

/*
 * A stable least-significant-digit radix sort of n unsigned keys (uint32,
 * or uint64 when wide) by their bits [shift_lo, shift_hi), a byte per pass:
 * linear in n where a comparison sort takes n log n compares.  An even
 * number of passes, so the result ends in keys.
 */
static void
RadixSort(void *keys, int64 n, bool wide, int shift_lo, int shift_hi)
{
	size_t		width = wide ? sizeof(uint64) : sizeof(uint32);
	char	   *tmp = palloc_extended(width * Max(n, 1), MCXT_ALLOC_HUGE);
	size_t		count[256];

	Assert((shift_hi - shift_lo) % 16 == 0);
	for (int shift = shift_lo; shift < shift_hi; shift += 8)
	{
		/* even passes read keys into tmp, odd ones back */
		char	   *from = ((shift - shift_lo) / 8) % 2 == 0 ? (char *) keys : tmp;
		char	   *to = ((shift - shift_lo) / 8) % 2 == 0 ? tmp : (char *) keys;
		size_t		pos = 0;

#define KEY_BYTE(p, i) (wide ? (((const uint64 *) (p))[i] >> shift) & 0xFF : (((const uint32 *) (p))[i] >> shift) & 0xFF)
		memset(count, 0, sizeof(count));
		for (int64 i = 0; i < n; i++)
			count[KEY_BYTE(from, i)]++;
		for (int b = 0; b < 256; b++)
		{
			size_t		c = count[b];

			count[b] = pos;
			pos += c;
		}
		if (wide)
			for (int64 i = 0; i < n; i++)
				((uint64 *) to)[count[KEY_BYTE(from, i)]++] = ((const uint64 *) from)[i];
		else
			for (int64 i = 0; i < n; i++)
				((uint32 *) to)[count[KEY_BYTE(from, i)]++] = ((const uint32 *) from)[i];
#undef KEY_BYTE
	}
	pfree(tmp);
}

/*
 * The order is CompareRows'.  Most of it is decided by the first value, so
 * the rows are sorted first by that value's integer key (with the row
 * number, 8 bytes an entry: no row is touched); only runs that share the
 * first value are then compared whole.  Rows equal in every bit may end
 * up in any order among themselves, which leaves X the same.
 */
void
AeTrainerSortRows(float *X, int64 n, int d)
{
	uint64	   *keyed;
	uint32	   *perm;
	float	   *tmp;
	RowSortArg	arg = {X, d};
	size_t		rowbytes = sizeof(float) * d;

	if (n < 2)
		return;
	keyed = palloc_extended(sizeof(uint64) * n, MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		keyed[i] = ((uint64) FloatKey(X[(size_t) i * d]) << 32) | (uint64) i;
	/* by the key alone: stable, so equal keys keep their row numbers ascending */
	RadixSort(keyed, n, true, 32, 64);
	CHECK_FOR_INTERRUPTS();

	/* the row numbers, in place: entry i (4 bytes) never overtakes entry i (8 bytes) */
	perm = (uint32 *) keyed;
	for (int64 i = 0; i < n;)
	{
		uint32		key = (uint32) (keyed[i] >> 32);
		int64		end = i + 1;

		while (end < n && (uint32) (keyed[end] >> 32) == key)
			end++;
		for (int64 k = i; k < end; k++)
			perm[k] = (uint32) keyed[k];
		if (end - i > 1)
			qsort_arg(perm + i, end - i, sizeof(uint32), CompareRows, &arg);
		i = end;
	}

	/*
	 * Apply the permutation in place, one cycle at a time: position k takes
	 * the row now at perm[k]; a visited position is marked perm[k] = k.
	 */
	tmp = palloc(rowbytes);
	for (int64 i = 0; i < n; i++)
	{
		int64		j = i;

		if (perm[i] == (uint32) i)
			continue;
		memcpy(tmp, X + (size_t) i * d, rowbytes);
		for (;;)
		{
			int64		k = perm[j];

			perm[j] = (uint32) j;
			if (k == i)
			{
				memcpy(X + (size_t) j * d, tmp, rowbytes);
				break;
			}
			memcpy(X + (size_t) j * d, X + (size_t) k * d, rowbytes);
			j = k;
		}
		if ((i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(tmp);
	pfree(keyed);
}

/* ---------------------------------------------------------------- progress */

/*
 * After every batch: honour cancel requests and statement_timeout (this may
 * longjmp out of the core, which holds nothing that outlives the memory
 * context), and with verbose a NOTICE per finished epoch.  The message holds
 * only deterministic numbers; the timing goes into the detail.
 */
bool
AeTrainerProgress(void *arg, int epoch, int batch, int n_batches, const AeEpochStats *done)
{
	AeTrainProgress *p = (AeTrainProgress *) arg;

	CHECK_FOR_INTERRUPTS();
	if (done == NULL)
		return true;
	p->seconds += done->seconds;
	if (p->verbose)
	{
		double		per_epoch = p->seconds / done->epoch;
		double		left = per_epoch * (p->epochs - done->epoch) + p->fixed_left;
		double		rate = done->seconds > 0 ? p->n_rows / done->seconds : 0;

		if (isnan(done->val_loss))
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train loss %.4g", done->epoch, p->epochs,
							done->train_loss),
					 errdetail("%.0f rows/s, at most %.1f s left.", rate, left)));
		else
			ereport(NOTICE,
					(errmsg("epoch %d/%d: train loss %.4g, validation loss %.4g",
							done->epoch, p->epochs, done->train_loss, done->val_loss),
					 errdetail("%.0f rows/s, at most %.1f s left.", rate, left)));
	}
	return true;
}

/* ---------------------------------------------------------------- the training */

void
AeTrainerFillConfig(AeTrainConfig *cfg, const AeTrainOptions *opts)
{
	/* every field is set below; the defaults fill what SQL does not expose (betas, eps) */
	ae_train_config_defaults(cfg);
	cfg->objective.loss = (AeLoss) opts->loss;
	cfg->objective.l1_activity = (float) opts->l1_activity;
	cfg->objective.sparsity_weight = (float) opts->sparsity_weight;
	cfg->objective.sparsity_target = (float) opts->sparsity_target;
	cfg->objective.contractive = (float) opts->contractive;
	cfg->objective.contractive_samples = opts->contractive_samples;
	cfg->objective.noise = (AeNoise) opts->noise;
	cfg->objective.noise_level = opts->noise == AE_NOISE_NONE ? 0.0f : (float) opts->noise_level;

	ae_optim_defaults(&cfg->optim, (AeOptimizerKind) opts->optimizer);
	cfg->optim.learning_rate = (float) opts->learning_rate;
	cfg->optim.momentum = (float) opts->momentum;
	cfg->optim.nesterov = opts->nesterov;
	cfg->optim.weight_decay = (float) opts->weight_decay;
	cfg->optim.clip_norm = (float) opts->clip_norm;
	cfg->optim.lr_decay = (float) opts->lr_decay;

	cfg->batch_size = opts->batch_size;
	cfg->epochs = opts->epochs;
	cfg->shuffle = opts->shuffle;
	cfg->validation_fraction = (float) opts->validation_fraction;
	cfg->patience = opts->patience;
	cfg->seed = (uint64_t) opts->seed;
}

/*
 * The reconstruction error of every row (X: n × d, normalised): the mean
 * squared error, or a mixed model's weighted slot mean (ae_row_errors).
 */
static float *
RowErrors(const AeModel *model, const float *X, int64 n, int d)
{
	float	   *errors = palloc_extended(sizeof(float) * Max(n, 1), MCXT_ALLOC_HUGE);
	float	   *sq = palloc(sizeof(float) * AE_ERROR_BATCH * d);
	float	   *scratch = palloc(sizeof(float) * Max(ae_forward_scratch_size(model, AE_ERROR_BATCH), 1));

	for (int64 start = 0; start < n; start += AE_ERROR_BATCH)
	{
		int			B = (int) Min(AE_ERROR_BATCH, n - start);

		CHECK_FOR_INTERRUPTS();
		ae_row_errors(model, X + (size_t) start * d, B, errors + start, sq, scratch);
	}
	pfree(sq);
	pfree(scratch);
	return errors;
}

/*
 * Sort the n errors ascending when they are all non-negative (not NaN, not
 * -0): such floats' bit patterns, read as unsigned integers, are in the
 * same order as the values, so four passes of a byte-wise radix sort put
 * them in the order a comparison sort would, in linear time.  Otherwise
 * they are left as they are.  ae_quantiles then finds them sorted, which
 * its own sort passes over quickly.
 */
static void
SortErrors(float *errors, int64 n)
{
	for (int64 i = 0; i < n; i++)
		if (!(errors[i] >= 0.0f) || signbit(errors[i]))
			return;
	RadixSort(errors, n, false, 0, 32);
}

static int
CompareUint32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * A seeded uniform sample of k rows (ae_fit's max_rows), taken after the
 * canonical sort so it does not depend on the plan: a partial Fisher–Yates
 * shuffle picks the indexes, which are put back in ascending order.
 */
int64
AeTrainerSampleRows(float *X, int64 n, int d, int64 k, uint64 seed)
{
	uint32	   *idx;
	AeRng		rng;

	if (k <= 0 || n <= k)
		return n;
	idx = palloc_extended(sizeof(uint32) * n, MCXT_ALLOC_HUGE);
	for (int64 i = 0; i < n; i++)
		idx[i] = (uint32) i;
	ae_rng_seed(&rng, seed ^ UINT64CONST(0x9E3779B97F4A7C15));
	for (int64 i = 0; i < k; i++)
	{
		int64		j = i + (int64) ae_rng_below(&rng, (uint64) (n - i));
		uint32		t = idx[i];

		idx[i] = idx[j];
		idx[j] = t;
	}
	/* ascending, so rows only ever move towards the front */
	qsort(idx, k, sizeof(uint32), CompareUint32);
	for (int64 i = 0; i < k; i++)
		if (idx[i] != (uint32) i)
			memcpy(X + (size_t) i * d, X + (size_t) idx[i] * d, sizeof(float) * d);
	pfree(idx);
	return k;
}

void
AeTrainerCalibrate(AeBundle *bundle, const AeModel *model, const float *X, int64 n, int d,
				   double contamination)
{
	float	   *errors = RowErrors(model, X, n, d);
	double		probs[AE_BUNDLE_N_QUANTILES + 1];
	double		q[AE_BUNDLE_N_QUANTILES + 1];

	SortErrors(errors, n);

	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		probs[i] = i / (double) (AE_BUNDLE_N_QUANTILES - 1);
	probs[AE_BUNDLE_N_QUANTILES] = 1.0 - contamination;
	ae_quantiles(errors, (size_t) n, probs, AE_BUNDLE_N_QUANTILES + 1, q);
	memcpy(bundle->quantiles, q, sizeof(double) * AE_BUNDLE_N_QUANTILES);
	bundle->threshold = q[AE_BUNDLE_N_QUANTILES];
	bundle->contamination = contamination;
	pfree(errors);
}

AeBundle *
AeTrainerRun(AeTrainOptions *opts, const AeArch *arch, float *X, int64 n, int d,
			 const char *columns, int n_columns, Size columns_len,
			 const AeBundle *warm, const char *what, AeTrainerReport *report,
			 const AeGroups *groups, const char *encoding_json)
{
	AeBundle   *bundle = palloc0(sizeof(AeBundle));
	AeModel		model;
	AeTrainConfig cfg;
	AeTrainResult result;
	AeTrainProgress progress;
	AeStatus	st;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	float	   *params;
	int			n_norm;

	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: at least 2 rows are needed, got " INT64_FORMAT, what, n)));
	if (n > (int64) PG_UINT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: more than %u rows", what, PG_UINT32_MAX),
				 errhint("Train on a sample with max_rows.")));

	AeTrainerSortRows(X, n, d);
	n_norm = ae_groups_present(groups) ? groups->n_plain : d;

	/*
	 * normalisation (a warm start keeps the stored one) and the feature means
	 * in original units, for imputing missing values later, in one pass
	 */
	bundle->norm_method = (AeNormMethod) opts->normalize;
	bundle->norm_offset = palloc(sizeof(float) * d);
	bundle->norm_scale = palloc(sizeof(float) * d);
	bundle->feature_mean = palloc(sizeof(float) * d);
	ae_norm_fit_cols(warm ? AE_NORM_NONE : bundle->norm_method, X, n, d, n_norm,
					 bundle->norm_offset, bundle->norm_scale, bundle->feature_mean);
	if (n_norm < d)				/* one-hot groups are never normalised (offset 0, scale 1) */
		ae_norm_fit_cols(AE_NORM_NONE, X + n_norm, n, d, d - n_norm, bundle->norm_offset + n_norm,
						 bundle->norm_scale + n_norm, bundle->feature_mean + n_norm);
	if (warm)
	{
		memcpy(bundle->norm_offset, warm->norm_offset, sizeof(float) * d);
		memcpy(bundle->norm_scale, warm->norm_scale, sizeof(float) * d);
	}
	ae_norm_apply_cols(bundle->norm_offset, bundle->norm_scale, X, n, d, n_norm);

	if (opts->loss == AE_LOSS_BCE)
	{
		size_t		bad = ae_norm_clamp_unit(X, (size_t) n * d);

		if (bad < (size_t) n * d)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s: loss \"bce\" needs inputs in [0, 1], but input %d of a row is %g after normalisation",
							what, (int) (bad % d) + 1, (double) X[bad]),
					 errhint("Use \"normalize\" => 'minmax'.")));
	}

	/* the network */
	params = palloc_extended(sizeof(float) * Max(ae_arch_param_count(arch), 1), MCXT_ALLOC_HUGE);
	ae_check_status(ae_model_bind(&model, arch, params, errbuf), errbuf, what);
	if (ae_groups_present(groups))
		ae_check_status(ae_model_set_groups(&model, groups, errbuf), errbuf, what);
	if (warm)
		memcpy(params, warm->params, sizeof(float) * model.n_params);
	else
		ae_model_init_weights(&model, (uint64_t) opts->seed);

	AeTrainerFillConfig(&cfg, opts);
	ae_check_status(ae_train_config_validate(&cfg, &model, errbuf), errbuf, what);

	progress.verbose = opts->verbose;
	progress.epochs = opts->epochs;
	progress.n_rows = n;
	progress.seconds = 0;
	progress.fixed_left = 0;
	memset(&result, 0, sizeof(result));
	st = ae_train(&model, &cfg, X, (size_t) n, &ae_palloc_allocator,
				  AeTrainerProgress, &progress, &result, errbuf);
	ae_check_status(st, errbuf, what);

	/* the training-error distribution and the anomaly threshold */
	AeTrainerCalibrate(bundle, &model, X, n, d, opts->contamination);

	bundle->arch = *arch;
	bundle->params = params;
	bundle->n_rows = n;
	bundle->epochs_run = result.epochs_run;
	bundle->train_loss = result.train_loss;
	bundle->val_loss = result.n_val > 0 ? result.val_loss : NAN;
	bundle->n_history = result.epochs_run;
	bundle->history = result.history;
	/* trained in memory, whatever was asked: the stored options say what happened */
	opts->data = AE_DATA_MEMORY;
	opts->shuffle_buffer = 0;
	bundle->config_json = AeOptionsToJson(opts);
	bundle->n_columns = n_columns;
	bundle->columns = n_columns > 0 ? (char *) columns : NULL;
	bundle->columns_len = n_columns > 0 ? columns_len : 0;
	if (ae_groups_present(groups))
		bundle->groups = *groups;
	bundle->encoding_json = encoding_json ? pstrdup(encoding_json) : NULL;

	report->rows_used = n;
	report->epochs_run = result.epochs_run;
	report->train_loss = result.train_loss;
	report->val_loss = bundle->val_loss;
	return bundle;
}
