/*
 * ae_training.h — training from SQL: ae_train() and the ae_fit aggregate.
 *
 * Both entry points end in the same place: a row-major float matrix in
 * memory plus a parsed option set go into AeTrainerRun (ae_trainer.c), which
 * sorts the rows into a canonical order, normalises, trains with the core,
 * measures the training-error distribution and returns the bundle to store.
 *
 *   ae_options.c     option table, parsing (named arguments, jsonb), JSON text
 *   ae_scan.c        one pass over a relation: table scan or SPI cursor
 *   ae_data.c        reading a relation into memory (ae_train, data 'memory')
 *   ae_stream.c      training with a pass over the relation per epoch
 *                    (ae_train, data 'stream')
 *   ae_trainer.c     the shared training path and the memory budget
 *   ae_train_func.c  the ae_train() SQL function
 *   ae_agg.c         the ae_fit aggregate
 */
#ifndef AE_TRAINING_H
#define AE_TRAINING_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "ae_bundle.h"
#include "ae_names.h"

/* Every option, in the order of ae_train()'s named arguments after "columns". */
typedef enum AeOptionId
{
	AE_OPTION_HIDDEN = 0,
	AE_OPTION_ACTIVATION,
	AE_OPTION_OUTPUT_ACTIVATION,
	AE_OPTION_CODE_LAYER,
	AE_OPTION_TIED_WEIGHTS,
	AE_OPTION_LOSS,
	AE_OPTION_OPTIMIZER,
	AE_OPTION_LEARNING_RATE,
	AE_OPTION_MOMENTUM,
	AE_OPTION_NESTEROV,
	AE_OPTION_WEIGHT_DECAY,
	AE_OPTION_CLIP_NORM,
	AE_OPTION_LR_DECAY,
	AE_OPTION_BATCH_SIZE,
	AE_OPTION_EPOCHS,
	AE_OPTION_SHUFFLE,
	AE_OPTION_NORMALIZE,
	AE_OPTION_NOISE,
	AE_OPTION_NOISE_LEVEL,
	AE_OPTION_L1_ACTIVITY,
	AE_OPTION_SPARSITY_TARGET,
	AE_OPTION_SPARSITY_WEIGHT,
	AE_OPTION_CONTRACTIVE,
	AE_OPTION_CONTRACTIVE_SAMPLES,
	AE_OPTION_VALIDATION_FRACTION,
	AE_OPTION_PATIENCE,
	AE_OPTION_CONTAMINATION,
	AE_OPTION_SEED,
	AE_OPTION_MAX_ROWS,
	AE_OPTION_SKIP_INVALID,
	AE_OPTION_WARM_START,
	AE_OPTION_VERBOSE,
	AE_OPTION_DATA,
	AE_OPTION_SHUFFLE_BUFFER,
	AE_OPTION_MAX_CATEGORIES,
	AE_OPTION_NULLS,
	AE_OPTION_COLUMN_WEIGHTS,
	AE_N_OPTIONS
} AeOptionId;

/*
 * The options of one training, as given (set[] says which were given) and,
 * after AeTrainerResolve, as used.  Reals are kept in double as the user
 * wrote them; the core receives floats.
 */
typedef struct AeTrainOptions
{
	bool		set[AE_N_OPTIONS];

	int			n_hidden;		/* 0 until given or derived from the width */
	int			hidden[AE_MAX_HIDDEN];
	int			activation;		/* AeActivation */
	int			output_activation;	/* AeActivation */
	int			code_layer;		/* -1: the narrowest hidden layer */
	bool		tied_weights;
	int			loss;			/* AeLoss */
	int			optimizer;		/* AeOptimizerKind */
	double		learning_rate;	/* 0: the optimizer's default */
	double		momentum;
	bool		nesterov;
	double		weight_decay;	/* < 0: the optimizer's default */
	double		clip_norm;
	double		lr_decay;
	int			batch_size;
	int			epochs;
	bool		shuffle;
	int			normalize;		/* AeNormMethod */
	int			noise;			/* AeNoise */
	double		noise_level;
	double		l1_activity;
	double		sparsity_target;
	double		sparsity_weight;
	double		contractive;
	int			contractive_samples;	/* 0: exact Jacobian; k: k random projections */
	double		validation_fraction;
	int			patience;
	double		contamination;
	int64		seed;
	int64		max_rows;		/* 0: every row */
	bool		skip_invalid;
	bool		warm_start;
	bool		verbose;
	int			data;			/* AeDataMode (ae_train only) */
	int64		shuffle_buffer; /* rows; streaming only */
	int			max_categories; /* vocabulary of a categorical column */
	int			nulls;			/* AeNullsMode */
	char	   *column_weights; /* JSON object text {"column": weight}, or NULL */
} AeTrainOptions;

/* What a NULL in a named column is (option nulls) */
typedef enum AeNullsMode
{
	AE_NULLS_LEARN = 0,			/* a value: the column gets a missing state */
	AE_NULLS_ERROR				/* an invalid row, as in numeric models before */
} AeNullsMode;

extern const AeName ae_nulls_mode_names[];

/* Where ae_train's rows are trained from (option "data"). */
typedef enum AeDataMode
{
	AE_DATA_AUTO = 0,			/* memory when the rows fit the budget, else stream */
	AE_DATA_MEMORY,
	AE_DATA_STREAM
} AeDataMode;

extern const AeName ae_data_mode_names[];

/* ae_options.c */
extern void AeOptionsDefaults(AeTrainOptions *opts);
extern const char *AeOptionName(AeOptionId id);
/* Named arguments of ae_train(): option i is argument first_arg + i. */
extern void AeOptionsFromArgs(AeTrainOptions *opts, FunctionCallInfo fcinfo, int first_arg);
/* The jsonb options of ae_fit; NULL means '{}'.  Unknown keys are rejected. */
extern void AeOptionsFromJsonb(AeTrainOptions *opts, Jsonb *json);
/* The same for a training that names its model (ae_train_sharded): warm_start too. */
extern void AeOptionsFromJsonbNamed(AeTrainOptions *opts, Jsonb *json);
/* Every option actually used, as a JSON object text (after AeTrainerResolve). */
extern char *AeOptionsToJson(const AeTrainOptions *opts);

/* ae_trainer.c */

/*
 * Fill in the options that depend on the input width d or on the model a
 * warm start continues from (warm may be NULL), validate the architecture,
 * and build it into *arch.  Raises 22023 naming the option at fault.
 */
extern void AeTrainerResolve(AeTrainOptions *opts, int d, const AeBundle *warm,
							 AeArch *arch, const char *what);

/*
 * A warm start reads the same input as the stored model: the same named
 * columns in the same order (n_columns names end to end, NUL-terminated,
 * columns_len bytes), or an input array when n_columns is 0 (raises 22023).
 */
extern void AeTrainerCheckWarmColumns(const AeBundle *warm, int n_columns, const char *columns,
									  size_t columns_len, const char *what);

/*
 * Memory budget.  A training of n rows of width d needs about
 * fixed + n * per_row bytes; AeTrainerCheckMemory raises 53200 naming
 * autoenc.max_train_memory when that exceeds the setting, and
 * AeTrainerMaxRows says how many rows fit (0 when not even the model does).
 * extra_per_row is what the caller holds besides the training matrix (the
 * aggregate's state).
 */
extern Size AeTrainerFixedBytes(const AeTrainOptions *opts, const AeArch *arch);
/*
 * Its network part: param_copies vectors of the parameters and the work
 * space of a batch of batch rows (AeTrainerFixedBytes counts 7 copies; a
 * shard holds 2, the parameters and their gradient).
 */
extern double AeTrainerNetworkBytes(const AeArch *arch, int batch, bool contractive,
									int param_copies);
/* autoenc.max_train_memory in bytes: what every training's data and model share. */
extern Size AeTrainerBudgetBytes(void);
extern Size AeTrainerRowBytes(int d, Size extra_per_row);
extern void AeTrainerCheckMemory(Size fixed, Size per_row, int64 n_rows);
extern int64 AeTrainerMaxRows(Size fixed, Size per_row);

/*
 * The capacity to grow a row buffer to, from old_cap rows of row_bytes each,
 * so that it holds at least need rows: doubling where the budget allows,
 * never past limit, and counting the old buffer too, since both exist while
 * it is copied.  Raises 53200 when not even need rows fit that way.
 */
extern int64 AeTrainerGrowCap(Size fixed, Size per_row, Size row_bytes,
							  int64 old_cap, int64 need, int64 limit);

/* What a training reports besides the bundle. */
typedef struct AeTrainerReport
{
	int64		rows_used;
	int			epochs_run;
	double		train_loss;
	double		val_loss;		/* NaN without validation rows */
} AeTrainerReport;

/*
 * The shared training path.  X (n × d, original units) is sorted into the
 * canonical row order, normalised in place and trained on; the returned
 * bundle and everything else is allocated in CurrentMemoryContext, which the
 * caller deletes afterwards.  columns/n_columns/columns_len describe
 * named-column input (NULL/0/0 for array input); warm is the model a warm
 * start continues from, or NULL.
 */
extern AeBundle *AeTrainerRun(AeTrainOptions *opts, const AeArch *arch, float *X, int64 n, int d,
							  const char *columns, int n_columns, Size columns_len,
							  const AeBundle *warm, const char *what,
							  AeTrainerReport *report,
							  const AeGroups *groups, const char *encoding_json);

/*
 * The error distribution of n normalised rows X (n × d) under model: the
 * bundle's 101 quantiles, its threshold (the 1 - contamination quantile)
 * and contamination.  Training runs it on the training rows, ae_import_onnx
 * on its calibration rows.
 */
extern void AeTrainerCalibrate(AeBundle *bundle, const AeModel *model, const float *X,
							   int64 n, int d, double contamination);

/* Sort the n rows of X (n × d) into the canonical order, in place. */
extern void AeTrainerSortRows(float *X, int64 n, int d);

/*
 * With more than k rows, a seeded uniform sample of k of them (in the order
 * they have), moved to the front of X; returns how many rows X now holds.
 * Taken after AeTrainerSortRows, it does not depend on the order rows came in.
 */
extern int64 AeTrainerSampleRows(float *X, int64 n, int d, int64 k, uint64 seed);

/* ae_data.c */

/* What makes an input row unusable; each maps to a message and a SQLSTATE. */
typedef enum AeRowProblem
{
	AE_ROW_OK = 0,
	AE_ROW_NULL,				/* the array (or a column) is NULL */
	AE_ROW_NULL_ELEMENT,
	AE_ROW_NAN,
	AE_ROW_INFINITE,
	AE_ROW_OUT_OF_RANGE,		/* a finite double beyond the range of real */
	AE_ROW_NOT_1D,
	AE_ROW_EMPTY,
	AE_ROW_RAGGED
} AeRowProblem;

typedef struct AeRowCheck
{
	AeRowProblem problem;
	int			index;			/* 1-based element or column position */
	int			count;			/* elements (ragged) or dimensions (not 1-D) */
	double		value;
} AeRowCheck;

/*
 * Check one value of a row: true when it is finite and within real's range;
 * otherwise false with the problem, its 1-based index and the value in *c.
 */
extern bool AeCheckValue(AeRowCheck *c, int index, double v);

/*
 * After a pass over the relation: no rows at all, or no valid row, is an
 * error (22000); skipped invalid rows are a NOTICE.
 */
extern void AeReportRowCounts(const char *what, const char *relname, int64 n_read,
							  int64 n_valid, int64 n_skipped);

/*
 * Check one input array (real[] when float4, else double precision[]) and
 * convert it into out, which has room for d floats when d > 0; d <= 0 means
 * the width is not known yet (out then needs room for *width floats, so the
 * caller converts twice: first to learn the width).  *width receives the
 * number of elements.  Raises 54000 for arrays wider than AE_MAX_WIDTH.
 */
extern void AeConvertArray(ArrayType *arr, bool float4, int d, float *out, int *width,
						   AeRowCheck *c, const char *what);

/*
 * Raise the error for an invalid row: row_no is 1-based in read order; input
 * names the array column (NULL: "the input array"), colnames the named
 * columns when there is no array column.
 */
extern void AeReportRow(const char *what, int64 row_no, const char *input,
						char **colnames, const AeRowCheck *c, int d);
/* The same with another hint (NULL: none), where skip_invalid does not apply. */
extern void AeReportRowHint(const char *what, int64 row_no, const char *input,
							char **colnames, const AeRowCheck *c, int d, const char *hint);

/* ae_scan.c */

/* What to read: a checked relation and its checked input columns. */
typedef struct AeScanSpec
{
	Oid			relid;
	const char *relname;
	const char *input;			/* array column, or NULL */
	bool		float4;			/* its elements are real */
	char	  **colnames;		/* named columns (input NULL) */
	int			ncols;
	bool		verbose;		/* a NOTICE naming the path taken */
	bool		raw;			/* named columns as they are, not cast (AeScanValue) */
} AeScanSpec;

typedef struct AeScan AeScan;

/*
 * One pass over the rows.  allow_direct false forces the executor path.
 * AeScanNext moves to the next row (false at the end); AeScanConvert checks
 * and converts it like AeConvertArray (out may be NULL to learn the width).
 * Errors release everything with the transaction; AeScanEnd on success.
 */
extern AeScan *AeScanBegin(const AeScanSpec *spec, bool allow_direct);
extern bool AeScanNext(AeScan *s);
extern void AeScanConvert(AeScan *s, int d, float *out, int *width, AeRowCheck *c,
						  const char *what);
extern void AeScanEnd(AeScan *s);
/* Column j of the current row as read (a raw spec: the column's own type). */
extern Datum AeScanValue(AeScan *s, int j, bool *isnull);
/* Reset every few rows: where to convert the current row's values. */
extern MemoryContext AeScanRowContext(AeScan *s);
extern bool AeScanDirect(const AeScan *s);
/* Would the table scan be used for spec, for the current role? */
extern bool AeScanIsDirect(const AeScanSpec *spec);

/* Rows read from a relation for ae_train. */
typedef struct AeData
{
	float	   *X;				/* n × d, allocated in the caller's context */
	int64		n;				/* rows kept */
	int			d;
	int64		n_read;			/* rows the query returned */
	int64		n_skipped;		/* invalid rows skipped (skip_invalid) */
	char	   *columns;		/* named-column input: names end to end, NUL-terminated */
	int			n_columns;
	Size		columns_len;
	AeArch		arch;			/* resolved once the width was known */
	bool		too_big;		/* AeDataRead with may_stream: the rows do not fit */
	AeScanSpec	spec;			/* what was read, for a streaming training */
	bool		mixed;			/* named columns that need an encoding: ae_mixed.c trains */
} AeData;

/*
 * Read every row of relid visible to the caller: input names an array column,
 * or input is NULL and columns (a text[]) names numeric columns.  Checks the
 * memory budget while reading and resolves opts/arch once the width is known.
 */
extern void AeDataRead(Oid relid, const char *input, ArrayType *columns,
					   AeTrainOptions *opts, const AeBundle *warm, const char *what,
					   AeData *data);

/*
 * The checks of AeDataRead without reading: the relation, the columns, and
 * data->spec, data->columns filled in (ae_train with data 'stream').
 */
extern void AeDataPrepare(Oid relid, const char *input, ArrayType *columns,
						  AeTrainOptions *opts, const char *what, AeData *data);

/* ae_stream.c */

/*
 * Train from data->spec with one pass over the relation per epoch (and a
 * first pass for the normalisation, a last one for the error quantiles);
 * memory is bounded by the shuffle buffer, a batch and the model.
 */
extern AeBundle *AeStreamTrain(AeData *data, AeTrainOptions *opts, const AeBundle *warm,
							   const char *what, AeTrainerReport *report);

/* ae_trainer.c, shared with ae_stream.c */
struct AeTrainConfig;
extern void AeTrainerFillConfig(struct AeTrainConfig *cfg, const AeTrainOptions *opts);
extern bool AeTrainerProgress(void *arg, int epoch, int batch, int n_batches,
							  const struct AeEpochStats *done);

/* What the progress callback needs (its arg). */
typedef struct AeTrainProgress
{
	bool		verbose;
	int			epochs;
	int64		n_rows;
	double		seconds;		/* sum of finished epochs */
	double		fixed_left;		/* seconds the run needs after the last epoch */
} AeTrainProgress;

#endif							/* AE_TRAINING_H */
