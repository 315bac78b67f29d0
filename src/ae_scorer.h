/*
 * ae_scorer.h — scoring one row: what the scoring functions and the scoring
 * trigger share.
 *
 * An AeScorer belongs to one call site (it lives in fn_extra, in the
 * function's fn_mcxt).  It holds a pinned cache entry and buffers sized for
 * that model, so scoring a row allocates nothing but the result:
 *
 *   ae_scorer_bind      model name → ready model (a pointer check on every
 *                       row but the first of a statement)      ae_scorer.c
 *   ae_scorer_load_*    input → normalised row xn (and which features are
 *                       present)                                ae_score_input.c
 *   ae_scorer_run       network over a layer range              ae_score_output.c
 *   ae_scorer_error     a reconstruction error metric (normalised space)
 */
#ifndef AE_SCORER_H
#define AE_SCORER_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/guc.h"

#include "ae_cache.h"

typedef enum AeMissing
{
	AE_MISSING_ERROR = 0,		/* a NULL or NaN element is an error */
	AE_MISSING_IMPUTE			/* replaced by the training mean, left out of the error */
} AeMissing;

typedef enum AeMetric
{
	AE_METRIC_MSE = 0,
	AE_METRIC_MAE,
	AE_METRIC_RMSE,
	AE_METRIC_MAX,
	AE_METRIC_BCE
} AeMetric;

/* autoenc.scoring_kernel */
typedef enum AeScoringKernel
{
	AE_KERNEL_FUSED = 0,
	AE_KERNEL_BLAS
} AeScoringKernel;

extern int	ae_scoring_kernel;

/* Models one call site keeps bound at once (a query may pick the model per row). */
#define AE_SCORER_BINDINGS 8

typedef struct AeBinding
{
	AeCachedModel *entry;		/* pinned */
	uint64		last_used;
	int			namelen;
	char		name[AE_CACHE_NAME_MAX];
	char	   *search_path;	/* the search_path's text when bound; NULL: not used */
} AeBinding;

typedef struct AeScorer
{
	MemoryContext mcxt;			/* where this lives (the caller's fn_mcxt) */
	MemoryContextCallback reset_cb; /* unpins the bound models when mcxt goes */

	/*
	 * The models checked and bound in this statement, valid while
	 * ae_cache_generation and the user stay the same; one is current.
	 */
	AeBinding	bindings[AE_SCORER_BINDINGS];
	int			n_bindings;
	uint64		clock;
	uint64		generation;		/* ae_cache_generation they were bound at */
	Oid			userid;			/* the permission checks were for this user */
	AeBinding  *current;		/* NULL before the first bind */
	AeCachedModel *entry;		/* current->entry */
	const char *name;			/* current->name */
	uint64		serial;			/* entry->serial the buffers are set up for */

	/* buffers for the current model (allocated for the widest seen) */
	int			d;
	int			code_width;
	int			cap_d;
	int			cap_code;
	size_t		cap_scratch;
	float	   *xn;				/* d: normalised input (missing ones imputed) */
	bool	   *present;		/* d: false where a value was missing */
	int			n_present;
	float	   *code;			/* code_width */
	float	   *out;			/* d: network output */
	float	   *scratch;
	float	   *sqerr;			/* d */

	/* a short-header array copied here with a 4-byte header */
	char	   *stage;
	Size		stage_size;

	/* row input: where each model column is in the row type */
	Oid			row_typid;
	int32		row_typmod;
	uint64		row_serial;		/* entry->serial the map was built for */
	uint64		row_generation; /* ae_relcache_generation it was built at */
	TupleDesc	row_desc;
	AttrNumber *row_attno;		/* d: 1-based */
	Oid		   *row_type;		/* d: base type of each */
	Datum	   *row_values;		/* row_desc->natts */
	bool	   *row_nulls;

	/* mixed-type models: the model's columns of the row, and what was seen */
	Datum	   *col_values;		/* n_columns */
	bool	   *col_nulls;
	int			n_unknown;		/* categories scored as "other" in this row */

	/*
	 * What per-feature results have: d inputs, or a mixed model's columns
	 * (set by the loading of a row; ae_scorer_feature_errors fills sqerr
	 * and present up to it).
	 */
	int			n_features;
} AeScorer;

/* autoenc.scoring_kernel's values (the setting is defined in _PG_init) */
extern const struct config_enum_entry ae_scoring_kernel_options[];

/* A scorer living in mcxt (it unpins its model when mcxt is reset or deleted). */
extern AeScorer *ae_scorer_create(MemoryContext mcxt);

/* The call site's scorer in fn_extra (created in flinfo->fn_mcxt on the first call). */
extern AeScorer *ae_scorer_get(FmgrInfo *flinfo);

/* Make s score with model name (permission-checked once per statement). */
extern void ae_scorer_bind(AeScorer *s, const char *name, int namelen);

static inline void
ae_scorer_bind_text(AeScorer *s, const text *name)
{
	ae_scorer_bind(s, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
}

/*
 * Load one input row into s->xn / s->present: a real[] or double precision[]
 * array (any lower bound, one dimension, the model's width), or a row whose
 * columns are picked by the names stored in a named-column model.
 */
extern void ae_scorer_load_array(AeScorer *s, Datum array, AeMissing missing);
extern void ae_scorer_load_row(AeScorer *s, HeapTupleHeader row, AeMissing missing);
extern void ae_scorer_load_tuple(AeScorer *s, HeapTuple tuple, TupleDesc desc, AeMissing missing);

/* Load a code (s->code) for decoding: code_width finite values. */
extern void ae_scorer_load_code(AeScorer *s, Datum array);

/* Run weight layers [from, to) on in (dims[from] floats), write out (dims[to]). */
extern void ae_scorer_run(AeScorer *s, int from, int to, const float *in, float *out);

/*
 * encode: s->code from s->xn;  reconstruct: s->out from s->xn;  decode:
 * s->out from s->code.  encode and decode raise 22003 when an output is
 * not finite; after reconstruct, ae_scorer_error, ae_scorer_feature_errors
 * and ae_scorer_denormalise check (or ae_scorer_check_output).
 */
extern void ae_scorer_encode(AeScorer *s);
extern void ae_scorer_reconstruct(AeScorer *s);
extern void ae_scorer_decode(AeScorer *s);
extern void ae_scorer_check_output(AeScorer *s);

/* s->out from normalised to original units (22003 when that overflows real). */
extern void ae_scorer_denormalise(AeScorer *s);

/* After ae_scorer_reconstruct: the metric over the present features. */
extern double ae_scorer_error(AeScorer *s, AeMetric metric);

/*
 * After ae_scorer_reconstruct: s->sqerr[j] = (x̂_j - x_j)² (0 where
 * missing); for a mixed model one entry per column, the sum of its slots'
 * weighted errors (s->n_features of them).
 */
extern void ae_scorer_feature_errors(AeScorer *s);

/*
 * After ae_scorer_reconstruct: feature j's observed and expected value in
 * words, e.g. "observed 'NZ', expected 'US' (p=0.93)".
 */
extern char *ae_explain_detail(AeScorer *s, int j);

/*
 * After ae_scorer_reconstruct: model column c's reconstruction as a value
 * of type typid (typmod): a number rounded as an assignment would, the
 * most likely category (NULL when that is "other" or the NULL category), a
 * date or time, NULL when the missing state is the more likely.  Domain
 * constraints are checked.
 */
extern Datum ae_scorer_column_value(AeScorer *s, int c, Oid typid, int32 typmod, bool *isnull);

/*
 * Share of training rows with a smaller MSE, from the stored quantiles
 * (55000 when the model has none, e.g. an import without them).
 */
extern double ae_scorer_anomaly_score(const AeScorer *s, double mse);

/* The training-error quantile at probability p in [0, 1], interpolated (55000 as above). */
extern double ae_scorer_quantile(const AeScorer *s, double p);

/* The stored anomaly threshold (55000 when the model has none). */
extern double ae_scorer_threshold(const AeScorer *s);

/* Is the text argument exactly s?  (the option values are lowercase ASCII) */
static inline bool
ae_text_is(const text *t, const char *s)
{
	size_t		len = strlen(s);

	return VARSIZE_ANY_EXHDR(t) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

extern AeMissing ae_parse_missing(const text *value);
extern AeMetric ae_parse_metric(const text *value);

/* A one-dimensional real[] of n values; nulls may be NULL. */
extern ArrayType *ae_float4_array(const float *values, int n, const bool *nulls);

/* The feature's name: the model's column name, or its 1-based position. */
extern const char *ae_feature_name(const AeScorer *s, int j, char *buf, size_t bufsize);

#endif							/* AE_SCORER_H */
