/*
 * ae_agg.c — the ae_fit(input, options) aggregate: train a model on the rows
 * of a group and return it as an ae_model value.
 *
 * The state gathers the rows into an expanding float buffer; a parallel
 * plan gathers them in each worker, serialises them to the leader and
 * concatenates them there.  The final function trains on a copy of the rows
 * in the canonical order (ae_trainer.c), so a parallel plan produces exactly
 * the model a serial one does for the same seed.  (Averaging models trained
 * on parts would not: it is not an exact combine.)
 *
 * Every function follows array_agg's conventions: the state lives in the
 * aggregate context, combine copies the other side when its own is empty,
 * and the final function neither frees nor changes the state.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "ae_catalog.h"
#include "ae_rng.h"
#include "ae_training.h"

#define AE_FIT_WHAT "cannot fit model"

typedef struct AeFitState
{
	int			d;				/* input width; 0 until the first valid row */
	int64		n;				/* rows kept */
	int64		cap;			/* rows the buffer has room for */
	float	   *rows;			/* n × d, row-major */
	int64		n_seen;			/* input rows, invalid ones included */
	int64		n_skipped;
	Jsonb	   *options;		/* the options as given, or NULL for '{}' */
	AeTrainOptions opts;		/* parsed */
	AeArch		arch;			/* resolved once d is known */
	Size		fixed;			/* memory budget, once d is known */
	Size		per_row;
	int64		limit;
} AeFitState;

/* ---------------------------------------------------------------- state */

static void
StateSetOptions(AeFitState *state, Jsonb *options)
{
	/* parse before copying, so an invalid set fails on the first row */
	AeOptionsFromJsonb(&state->opts, options);
	state->options = options ? (Jsonb *) PG_DETOAST_DATUM_COPY(JsonbPGetDatum(options)) : NULL;
}

static bool
SameOptions(Jsonb *a, Jsonb *b)
{
	if (a == b)
		return true;
	if (a == NULL || b == NULL)
	{
		Jsonb	   *other = a ? a : b;

		/* NULL means '{}' */
		return JB_ROOT_IS_OBJECT(other) && JB_ROOT_COUNT(other) == 0;
	}
	if (VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0)
		return true;
	return compareJsonbContainers(&a->root, &b->root) == 0;
}

static void
CheckSameOptions(AeFitState *state, Jsonb *options)
{
	if (!SameOptions(state->options, options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ae_fit options must be the same for every row of a group")));
}

/* The width is known: resolve the architecture and the memory budget. */
static void
StateSetWidth(AeFitState *state, int d)
{
	AeTrainOptions opts = state->opts;

	state->d = d;
	AeTrainerResolve(&opts, d, NULL, &state->arch, AE_FIT_WHAT);
	state->fixed = AeTrainerFixedBytes(&opts, &state->arch);
	/* the state's copy of every row besides the final function's */
	state->per_row = AeTrainerRowBytes(d, sizeof(float) * d);
	state->limit = AeTrainerMaxRows(state->fixed, state->per_row);
}

/* Room for n_more more rows, within autoenc.max_train_memory. */
static void
StateReserve(AeFitState *state, int64 n_more, MemoryContext cxt)
{
	int64		need = state->n + n_more;
	int64		cap;

	if (need <= state->cap)
		return;
	if (need > state->limit)
		AeTrainerCheckMemory(state->fixed, state->per_row, need);	/* raises */
	cap = AeTrainerGrowCap(state->fixed, state->per_row, sizeof(float) * state->d,
						   state->cap, need, state->limit);
	if (state->rows == NULL)
		state->rows = MemoryContextAllocHuge(cxt, (Size) cap * state->d * sizeof(float));
	else
		state->rows = repalloc_huge(state->rows, (Size) cap * state->d * sizeof(float));
	state->cap = cap;
}

/* ---------------------------------------------------------------- transition */

PG_FUNCTION_INFO_V1(ae_fit_transfn);

/* ae_fit_transfn(internal, real[] | double precision[] [, jsonb]) */
Datum
ae_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	AeFitState *state;
	Jsonb	   *options = NULL;
	ArrayType  *arr;
	AeRowCheck	check;
	int			width = 0;
	bool		float4;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_fit_transfn called in non-aggregate context");

	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
		options = PG_GETARG_JSONB_P(2);

	state = PG_ARGISNULL(0) ? NULL : (AeFitState *) PG_GETARG_POINTER(0);
	if (state == NULL)
	{
		old = MemoryContextSwitchTo(aggcxt);
		state = palloc0(sizeof(AeFitState));
		StateSetOptions(state, options);
		MemoryContextSwitchTo(old);
	}
	else
		CheckSameOptions(state, options);

	state->n_seen++;
	if (PG_ARGISNULL(1))
		check.problem = AE_ROW_NULL;
	else
	{
		float4 = get_fn_expr_argtype(fcinfo->flinfo, 1) == FLOAT4ARRAYOID;
		arr = PG_GETARG_ARRAYTYPE_P(1);
		if (state->d == 0)
		{
			AeConvertArray(arr, float4, 0, NULL, &width, &check, AE_FIT_WHAT);
			if (check.problem == AE_ROW_OK)
				StateSetWidth(state, width);
		}
		if (state->d > 0)
		{
			StateReserve(state, 1, aggcxt);
			AeConvertArray(arr, float4, state->d, state->rows + (size_t) state->n * state->d,
						   &width, &check, AE_FIT_WHAT);
		}
	}

	if (check.problem != AE_ROW_OK)
	{
		if (!state->opts.skip_invalid)
			AeReportRow(AE_FIT_WHAT, state->n_seen, NULL, NULL, &check, state->d);
		state->n_skipped++;
	}
	else
		state->n++;

	PG_RETURN_POINTER(state);
}

/* ---------------------------------------------------------------- combine */

static AeFitState *
CopyState(const AeFitState *src, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	AeFitState *dst = palloc(sizeof(AeFitState));

	*dst = *src;
	dst->options = src->options ? (Jsonb *) PG_DETOAST_DATUM_COPY(JsonbPGetDatum(src->options)) : NULL;
	dst->rows = NULL;
	dst->cap = 0;
	if (src->n > 0)
	{
		dst->rows = MemoryContextAllocHuge(cxt, (Size) src->n * src->d * sizeof(float));
		memcpy(dst->rows, src->rows, (Size) src->n * src->d * sizeof(float));
		dst->cap = src->n;
	}
	MemoryContextSwitchTo(old);
	return dst;
}

PG_FUNCTION_INFO_V1(ae_fit_combinefn);

Datum
ae_fit_combinefn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AeFitState *s1;
	AeFitState *s2;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_fit_combinefn called in non-aggregate context");

	s1 = PG_ARGISNULL(0) ? NULL : (AeFitState *) PG_GETARG_POINTER(0);
	s2 = PG_ARGISNULL(1) ? NULL : (AeFitState *) PG_GETARG_POINTER(1);
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		PG_RETURN_POINTER(CopyState(s2, aggcxt));

	CheckSameOptions(s1, s2->options);
	s1->n_seen += s2->n_seen;
	s1->n_skipped += s2->n_skipped;
	if (s2->n == 0)
		PG_RETURN_POINTER(s1);
	if (s1->d == 0)
		StateSetWidth(s1, s2->d);
	else if (s1->d != s2->d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: input arrays have different lengths, %d and %d",
						AE_FIT_WHAT, s1->d, s2->d)));
	StateReserve(s1, s2->n, aggcxt);
	memcpy(s1->rows + (size_t) s1->n * s1->d, s2->rows, (Size) s2->n * s2->d * sizeof(float));
	s1->n += s2->n;
	PG_RETURN_POINTER(s1);
}

/* ---------------------------------------------------------------- serialisation */

/*
 * The serialised state, in this order (native byte order: it only travels
 * from a parallel worker to its leader):
 *   int32 d | int64 n | int64 n_seen | int64 n_skipped |
 *   int32 options length (0: none) | options (a jsonb varlena) | n × d float4
 */
#define SER_HEADER (sizeof(int32) + 3 * sizeof(int64) + sizeof(int32))

PG_FUNCTION_INFO_V1(ae_fit_serialfn);

Datum
ae_fit_serialfn(PG_FUNCTION_ARGS)
{
	AeFitState *state;
	Size		optlen;
	Size		rowbytes;
	Size		size;
	bytea	   *result;
	char	   *p;
	int32		i32;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "ae_fit_serialfn called in non-aggregate context");
	state = (AeFitState *) PG_GETARG_POINTER(0);

	optlen = state->options ? VARSIZE(state->options) : 0;
	rowbytes = (Size) state->n * state->d * sizeof(float);
	size = VARHDRSZ + SER_HEADER + optlen + rowbytes;
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: a parallel worker gathered more than 1 GB of rows", AE_FIT_WHAT),
				 errhint("Run the aggregate without parallelism: SET max_parallel_workers_per_gather = 0.")));

	result = palloc(size);
	SET_VARSIZE(result, size);
	p = VARDATA(result);
	i32 = state->d;
	memcpy(p, &i32, sizeof(int32));
	p += sizeof(int32);
	memcpy(p, &state->n, sizeof(int64));
	p += sizeof(int64);
	memcpy(p, &state->n_seen, sizeof(int64));
	p += sizeof(int64);
	memcpy(p, &state->n_skipped, sizeof(int64));
	p += sizeof(int64);
	i32 = (int32) optlen;
	memcpy(p, &i32, sizeof(int32));
	p += sizeof(int32);
	if (optlen > 0)
		memcpy(p, state->options, optlen);
	p += optlen;
	if (rowbytes > 0)
		memcpy(p, state->rows, rowbytes);

	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(ae_fit_deserialfn);

Datum
ae_fit_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	bytea	   *ser;
	AeFitState *state;
	const char *p;
	Size		len;
	int32		d;
	int32		optlen;
	int64		n;
	Size		rowbytes;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_fit_deserialfn called in non-aggregate context");
	ser = PG_GETARG_BYTEA_PP(0);
	p = VARDATA_ANY(ser);
	len = VARSIZE_ANY_EXHDR(ser);
	if (len < SER_HEADER)
		elog(ERROR, "ae_fit state of %zu bytes is too short. Please report a bug.", len);

	old = MemoryContextSwitchTo(aggcxt);
	state = palloc0(sizeof(AeFitState));
	memcpy(&d, p, sizeof(int32));
	p += sizeof(int32);
	memcpy(&n, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&state->n_seen, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&state->n_skipped, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&optlen, p, sizeof(int32));
	p += sizeof(int32);
	rowbytes = (Size) n * d * sizeof(float);
	if (d < 0 || n < 0 || optlen < 0 || len != SER_HEADER + optlen + rowbytes)
		elog(ERROR, "ae_fit state is malformed. Please report a bug.");

	if (optlen > 0)
	{
		/* copied out first: inside the bytea the jsonb may be misaligned */
		Jsonb	   *options = palloc(optlen);

		memcpy(options, p, optlen);
		StateSetOptions(state, options);
	}
	else
		StateSetOptions(state, NULL);
	p += optlen;
	if (d > 0)
		StateSetWidth(state, d);
	if (n > 0)
	{
		StateReserve(state, n, aggcxt);
		memcpy(state->rows, p, rowbytes);
		state->n = n;
	}
	MemoryContextSwitchTo(old);

	PG_RETURN_POINTER(state);
}

/* ---------------------------------------------------------------- final */

static int
CompareUint32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * With max_rows, a seeded uniform sample of the rows, taken after the
 * canonical sort so it does not depend on the plan: a partial Fisher–Yates
 * shuffle picks the indexes, which are put back in ascending order.
 */
static int64
SampleRows(float *X, int64 n, int d, int64 k, uint64 seed)
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

PG_FUNCTION_INFO_V1(ae_fit_finalfn);

Datum
ae_fit_finalfn(PG_FUNCTION_ARGS)
{
	AeFitState *state;
	AeTrainOptions opts;
	AeArch		arch;
	MemoryContext train_cxt;
	MemoryContext old;
	AeBundle   *bundle;
	AeTrainerReport report;
	float	   *X;
	int64		n;
	bytea	   *result;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "ae_fit_finalfn called in non-aggregate context");
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (AeFitState *) PG_GETARG_POINTER(0);
	if (state->n == 0)
		PG_RETURN_NULL();

	/* the state stays as it is: the final function may run more than once */
	opts = state->opts;
	AeTrainerResolve(&opts, state->d, NULL, &arch, AE_FIT_WHAT);
	AeTrainerCheckMemory(state->fixed, state->per_row, state->n);

	train_cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc training",
									  ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(train_cxt);

	n = state->n;
	X = palloc_extended((Size) n * state->d * sizeof(float), MCXT_ALLOC_HUGE);
	memcpy(X, state->rows, (Size) n * state->d * sizeof(float));
	if (opts.max_rows > 0 && n > opts.max_rows)
	{
		AeTrainerSortRows(X, n, state->d);
		n = SampleRows(X, n, state->d, opts.max_rows, (uint64) opts.seed);
	}

	bundle = AeTrainerRun(&opts, &arch, X, n, state->d, NULL, 0, 0, NULL,
						  AE_FIT_WHAT, &report);

	MemoryContextSwitchTo(old);
	result = ae_bundle_to_varlena(bundle);
	MemoryContextDelete(train_cxt);

	PG_RETURN_BYTEA_P(result);
}
