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
 * ae_fit(row, options) takes a row (a table's row, ROW(...) or any
 * composite value) whose every field is an input column, by its name: the
 * state is then an AeMixedRows store (ae_mixed.c), which categorical and
 * date/time fields and NULLs need, merged and serialised the same way.
 *
 * Every function follows array_agg's conventions: the state lives in the
 * aggregate context, combine copies the other side when its own is empty,
 * and the final function neither frees nor changes the state.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "ae_catalog.h"
#include "ae_mixed.h"
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

	/* ae_fit over a row: the fields, and the rows gathered (d stays 0) */
	AeMixedRows *mixed;
	int			ncols;
	char	  **colnames;
	Oid			row_typid;		/* the row type of the rows so far */
	int32		row_typmod;
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

/*
 * The state of the group (argument 0), made in the aggregate context with
 * the options (argument 2, when given) on the group's first row, or checked
 * to have the same options on every later row; the row is counted.
 */
static AeFitState *
StateForRow(FunctionCallInfo fcinfo, MemoryContext aggcxt)
{
	Jsonb	   *options = PG_NARGS() > 2 && !PG_ARGISNULL(2) ? PG_GETARG_JSONB_P(2) : NULL;
	AeFitState *state = PG_ARGISNULL(0) ? NULL : (AeFitState *) PG_GETARG_POINTER(0);

	if (state == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(aggcxt);

		state = palloc0(sizeof(AeFitState));
		StateSetOptions(state, options);
		MemoryContextSwitchTo(old);
	}
	else
		CheckSameOptions(state, options);
	state->n_seen++;
	return state;
}

PG_FUNCTION_INFO_V1(ae_fit_transfn);

/* ae_fit_transfn(internal, real[] | double precision[] [, jsonb]) */
Datum
ae_fit_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AeFitState *state;
	ArrayType  *arr;
	AeRowCheck	check;
	int			width = 0;
	bool		float4;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_fit_transfn called in non-aggregate context");
	state = StateForRow(fcinfo, aggcxt);
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

/*
 * The fields of a row type as input columns: every field that is not
 * dropped, by its name.
 */
static void
StateSetRowType(AeFitState *state, TupleDesc desc, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Oid		   *types = palloc(sizeof(Oid) * Max(desc->natts, 1));
	int			n = 0;

	state->colnames = palloc(sizeof(char *) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		state->colnames[n] = pstrdup(NameStr(att->attname));
		types[n] = att->atttypid;
		n++;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the input row has no columns", AE_FIT_WHAT)));
	if (n > AE_MAX_WIDTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: the input row has %d columns, more than the maximum %d",
						AE_FIT_WHAT, n, AE_MAX_WIDTH)));
	state->ncols = n;
	state->mixed = AeMixedRowsCreate(n, state->colnames, types, 0, 0);
	state->row_typid = desc->tdtypeid;
	state->row_typmod = desc->tdtypmod;
	MemoryContextSwitchTo(old);
}

/* The next row's type is not the first row's: the same fields by name and kind, or 42804. */
static void
CheckRowType(AeFitState *state, TupleDesc desc)
{
	int			n = 0;

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		if (n >= state->ncols || strcmp(NameStr(att->attname), state->colnames[n]) != 0)
			n = -1;
		if (n < 0)
			break;
		n++;
	}
	if (n != state->ncols)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: the rows of a group must have the same fields", AE_FIT_WHAT)));
}

PG_FUNCTION_INFO_V1(ae_fit_row_transfn);

/* ae_fit_row_transfn(internal, record [, jsonb]) */
Datum
ae_fit_row_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	AeFitState *state;
	AeRowCheck	check;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "ae_fit_row_transfn called in non-aggregate context");
	state = StateForRow(fcinfo, aggcxt);
	if (PG_ARGISNULL(1))
	{
		if (!state->opts.skip_invalid)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: row " INT64_FORMAT ": the input row is NULL", AE_FIT_WHAT, state->n_seen),
					 errhint("Filter such rows out, or set the option skip_invalid to leave them out.")));
		state->n_skipped++;
		PG_RETURN_POINTER(state);
	}
	else
	{
		HeapTupleHeader row = PG_GETARG_HEAPTUPLEHEADER(1);
		Oid			typid = HeapTupleHeaderGetTypeId(row);
		int32		typmod = HeapTupleHeaderGetTypMod(row);
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);
		HeapTupleData tuple;
		Datum	   *values = palloc(sizeof(Datum) * Max(desc->natts, 1));
		bool	   *nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
		Datum	   *cv = palloc(sizeof(Datum) * Max(desc->natts, 1));
		bool	   *cn = palloc(sizeof(bool) * Max(desc->natts, 1));
		int			n = 0;

		if (state->mixed == NULL)
			StateSetRowType(state, desc, aggcxt);
		else if (typid != state->row_typid || typmod != state->row_typmod)
			CheckRowType(state, desc);
		tuple.t_len = HeapTupleHeaderGetDatumLength(row);
		ItemPointerSetInvalid(&tuple.t_self);
		tuple.t_tableOid = InvalidOid;
		tuple.t_data = row;
		heap_deform_tuple(&tuple, desc, values, nulls);
		for (int i = 0; i < desc->natts; i++)
			if (!TupleDescAttr(desc, i)->attisdropped)
			{
				cv[n] = values[i];
				cn[n] = nulls[i];
				n++;
			}
		ReleaseTupleDesc(desc);
		AeMixedRowsAdd(state->mixed, cv, cn, state->opts.nulls == AE_NULLS_LEARN, &check);
	}

	if (check.problem != AE_ROW_OK)
	{
		if (!state->opts.skip_invalid)
			AeReportRow(AE_FIT_WHAT, state->n_seen, NULL, state->colnames, &check, state->ncols);
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
	if (src->mixed)
	{
		dst->mixed = AeMixedRowsCreate(src->ncols, src->colnames, AeMixedRowsTypes(src->mixed), 0, 0);
		AeMixedRowsMerge(dst->mixed, src->mixed);
	}
	else if (src->n > 0)
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
	MemoryContext old;
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
	if (s2->mixed || s1->mixed)
	{
		if (s1->mixed == NULL)
		{
			/* a state that saw only NULL rows */
			s1->ncols = s2->ncols;
			s1->colnames = s2->colnames;
			s1->row_typid = s2->row_typid;
			s1->row_typmod = s2->row_typmod;
			old = MemoryContextSwitchTo(aggcxt);
			s1->mixed = AeMixedRowsCreate(s2->ncols, s2->colnames, AeMixedRowsTypes(s2->mixed), 0, 0);
			MemoryContextSwitchTo(old);
		}
		if (s2->mixed)
			AeMixedRowsMerge(s1->mixed, s2->mixed);
		s1->n_seen += s2->n_seen;
		s1->n_skipped += s2->n_skipped;
		s1->n += s2->n;
		PG_RETURN_POINTER(s1);
	}
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
	rowbytes = state->mixed ? (Size) state->n * state->ncols * 9 :
		(Size) state->n * state->d * sizeof(float);
	if (rowbytes + optlen + 64 > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: a parallel worker gathered more than 1 GB of rows", AE_FIT_WHAT),
				 errhint("Run the aggregate without parallelism: SET max_parallel_workers_per_gather = 0.")));

	pq_begintypsend(&buf);
	if (state->mixed)
	{
		/* a row's state: width -1, the counts and options, then the store */
		pq_sendint32(&buf, -1);
		pq_sendint64(&buf, state->n);
		pq_sendint64(&buf, state->n_seen);
		pq_sendint64(&buf, state->n_skipped);
		pq_sendint32(&buf, options ? (int32) optlen : -1);
		if (options)
			pq_sendbytes(&buf, options, (int) optlen);
		AeMixedRowsSerialize(state->mixed, &buf);
		PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
	}
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

void
AeFitBadState(const char *detail)
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
	if (d < -1 || d > AE_MAX_WIDTH)
		AeFitBadState(psprintf("The input width is %d; it must be between 0 and %d.", d, AE_MAX_WIDTH));
	if (n < 0 || n_skipped < 0 || n_seen < 0 || n > n_seen || n_skipped > n_seen - n)
		AeFitBadState(psprintf("The row counts " INT64_FORMAT ", " INT64_FORMAT " and " INT64_FORMAT " do not add up.",
						  n, n_skipped, n_seen));
	if (d == 0 && n > 0)
		AeFitBadState("The state has rows but no input width.");
	if (d < 0 && optlen < 0 && optlen != -1)
		AeFitBadState("The options length is invalid.");
	if (optlen < -1 || optlen > buf.len - buf.cursor)
		AeFitBadState(psprintf("The options claim %d bytes; %d are left.", optlen, buf.len - buf.cursor));
	if (optlen >= 0)
	{
		const char *text = pq_getmsgbytes(&buf, optlen);

		/* parsed like any jsonb input: the text is not trusted either */
		options = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													 CStringGetDatum(pnstrdup(text, optlen))));
	}
	if (d < 0)
	{
		/* a row's state: the store follows */
		old = MemoryContextSwitchTo(aggcxt);
		state = palloc0(sizeof(AeFitState));
		StateSetOptions(state, options);
		state->n_seen = n_seen;
		state->n_skipped = n_skipped;
		state->mixed = AeMixedRowsDeserialize(&buf);
		if (AeMixedRowsCount(state->mixed) != n)
			AeFitBadState("The row count does not match the rows.");
		state->n = n;
		state->ncols = AeMixedRowsColumns(state->mixed, &state->colnames);
		pq_getmsgend(&buf);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(state);
	}
	/* what is left must be exactly n rows of d floats; divide, never multiply */
	if (d > 0 && (buf.len - buf.cursor) / ((Size) d * sizeof(float)) != (Size) n)
		AeFitBadState(psprintf("%d bytes of rows are left, not " INT64_FORMAT " rows of %d values.",
						  buf.len - buf.cursor, n, d));
	if ((Size) (buf.len - buf.cursor) != (Size) n * d * sizeof(float))
		AeFitBadState("The rows end in a partial row.");

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
	if (state->mixed)
	{
		StringInfoData cols;

		train_cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc training",
										  ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(train_cxt);
		/* the column list as a bundle keeps it: names end to end, each NUL-terminated */
		initStringInfo(&cols);
		for (int c = 0; c < state->ncols; c++)
			appendBinaryStringInfo(&cols, state->colnames[c], strlen(state->colnames[c]) + 1);
		bundle = AeMixedRowsTrain(state->mixed, &opts, cols.data, state->ncols, cols.len,
								  AE_FIT_WHAT, &report);
		MemoryContextSwitchTo(old);
		result = ae_bundle_to_varlena(bundle);
		MemoryContextDelete(train_cxt);
		PG_RETURN_BYTEA_P(result);
	}
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
		n = AeTrainerSampleRows(X, n, state->d, opts.max_rows, (uint64) opts.seed);
	}

	bundle = AeTrainerRun(&opts, &arch, X, n, state->d, NULL, 0, 0, NULL,
						  AE_FIT_WHAT, &report, NULL, NULL);

	MemoryContextSwitchTo(old);
	result = ae_bundle_to_varlena(bundle);
	MemoryContextDelete(train_cxt);

	PG_RETURN_BYTEA_P(result);
}
