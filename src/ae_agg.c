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
#include "libpq/pqformat.h"
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
 * The serialised state, in this order (written with pq_send*, so the
 * integers are in network byte order; the rows are one block of native
 * float4, since the state only travels from a parallel worker to its
 * leader, the same binary on the same machine, and a conversion per
 * element would cost a pass over up to a gigabyte):
 *   int32 d | int64 n | int64 n_seen | int64 n_skipped |
 *   int32 options length in bytes (-1: none) | options as jsonb text |
 *   n × d float4
 * The reader trusts none of it: every count is checked against its range
 * and against the bytes that are left before anything is allocated, and
 * the options are parsed again from their text.
 */

PG_FUNCTION_INFO_V1(ae_fit_serialfn);

Datum
ae_fit_serialfn(PG_FUNCTION_ARGS)
{
	AeFitState *state;
	StringInfoData buf;
	char	   *options = NULL;
	Size		optlen = 0;
	Size		rowbytes;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "ae_fit_serialfn called in non-aggregate context");
	state = (AeFitState *) PG_GETARG_POINTER(0);

	if (state->options)
	{
		options = JsonbToCString(NULL, &state->options->root, VARSIZE(state->options));
		optlen = strlen(options);
	}
	rowbytes = (Size) state->n * state->d * sizeof(float);
	if (rowbytes + optlen + 64 > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: a parallel worker gathered more than 1 GB of rows", AE_FIT_WHAT),
				 errhint("Run the aggregate without parallelism: SET max_parallel_workers_per_gather = 0.")));

	pq_begintypsend(&buf);
	pq_sendint32(&buf, state->d);
	pq_sendint64(&buf, state->n);
	pq_sendint64(&buf, state->n_seen);
	pq_sendint64(&buf, state->n_skipped);
	if (options)
	{
		pq_sendint32(&buf, (int32) optlen);
		pq_sendbytes(&buf, options, (int) optlen);
	}
	else
		pq_sendint32(&buf, -1);
	if (rowbytes > 0)
	{
		/* one block: enlargeStringInfo takes an int, and the size is below 1 GB */
		enlargeStringInfo(&buf, (int) rowbytes);
		pq_sendbytes(&buf, (const char *) state->rows, (int) rowbytes);
	}

	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
BadState(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid ae_fit aggregate state"),
			 errdetail("%s", detail)));
}

PG_FUNCTION_INFO_V1(ae_fit_deserialfn);

Datum
ae_fit_deserialfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	MemoryContext old;
	bytea	   *ser;
	StringInfoData buf;
	AeFitState *state;
	int32		d;
	int32		optlen;
	int64		n;
	int64		n_seen;
	int64		n_skipped;
	Jsonb	   *options = NULL;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_fit_deserialfn called in non-aggregate context");
	ser = PG_GETARG_BYTEA_PP(0);

	/*
	 * A read-only view of the bytea, not a copy (PostgreSQL 16 calls this
	 * initReadOnlyStringInfo): the rows may be close to a gigabyte.  The
	 * pq_getmsg* readers check every read against len and raise an error
	 * when the data run short.
	 */
	buf.data = VARDATA_ANY(ser);
	buf.len = VARSIZE_ANY_EXHDR(ser);
	buf.maxlen = 0;
	buf.cursor = 0;

	d = pq_getmsgint(&buf, 4);
	n = pq_getmsgint64(&buf);
	n_seen = pq_getmsgint64(&buf);
	n_skipped = pq_getmsgint64(&buf);
	optlen = pq_getmsgint(&buf, 4);
	if (d < 0 || d > AE_MAX_WIDTH)
		BadState(psprintf("The input width is %d; it must be between 0 and %d.", d, AE_MAX_WIDTH));
	if (n < 0 || n_skipped < 0 || n_seen < 0 || n > n_seen || n_skipped > n_seen - n)
		BadState(psprintf("The row counts " INT64_FORMAT ", " INT64_FORMAT " and " INT64_FORMAT " do not add up.",
						  n, n_skipped, n_seen));
	if (d == 0 && n > 0)
		BadState("The state has rows but no input width.");
	if (optlen < -1 || optlen > buf.len - buf.cursor)
		BadState(psprintf("The options claim %d bytes; %d are left.", optlen, buf.len - buf.cursor));
	if (optlen >= 0)
	{
		const char *text = pq_getmsgbytes(&buf, optlen);

		/* parsed like any jsonb input: the text is not trusted either */
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(pnstrdup(text, optlen))));
	}
	/* what is left must be exactly n rows of d floats; divide, never multiply */
	if (d > 0 && (buf.len - buf.cursor) / ((Size) d * sizeof(float)) != (Size) n)
		BadState(psprintf("%d bytes of rows are left, not " INT64_FORMAT " rows of %d values.",
						  buf.len - buf.cursor, n, d));
	if ((Size) (buf.len - buf.cursor) != (Size) n * d * sizeof(float))
		BadState("The rows end in a partial row.");

	old = MemoryContextSwitchTo(aggcxt);
	state = palloc0(sizeof(AeFitState));
	StateSetOptions(state, options);
	state->n_seen = n_seen;
	state->n_skipped = n_skipped;
	if (d > 0)
		StateSetWidth(state, d);
	if (n > 0)
	{
		Size		rowbytes = (Size) n * d * sizeof(float);

		/* within autoenc.max_train_memory, or an error naming it */
		StateReserve(state, n, aggcxt);
		memcpy(state->rows, pq_getmsgbytes(&buf, (int) rowbytes), rowbytes);
		state->n = n;
	}
	pq_getmsgend(&buf);
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
						  AE_FIT_WHAT, &report, NULL, NULL);

	MemoryContextSwitchTo(old);
	result = ae_bundle_to_varlena(bundle);
	MemoryContextDelete(train_cxt);

	PG_RETURN_BYTEA_P(result);
}
