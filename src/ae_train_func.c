/*
 * ae_train_func.c — ae_train(model, relation, input, ...): train a model on
 * the rows of a relation and store it in the catalog.
 *
 * The work happens in a memory context of its own, deleted at the end.  The
 * catalog write is the last step and belongs to the calling transaction, so
 * an error or a cancel at any point before it leaves the stored model of
 * that name exactly as it was.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ae_catalog.h"
#include "ae_coord.h"
#include "ae_mixed.h"
#include "ae_training.h"
#include "autoenc.h"

/* ae_train()'s arguments before the options */
#define ARG_MODEL		0
#define ARG_RELATION	1
#define ARG_INPUT		2
#define ARG_COLUMNS		3
#define ARG_FIRST_OPTION 4

/* result columns (after the INOUT model) */
#define N_RESULT_COLUMNS 7

/*
 * Fail before reading any row when the model cannot be stored: a standby or
 * a read-only transaction (25006), an invalid name, no CREATE on the target
 * schema, or a model of that name that belongs to somebody else (42501).
 * ae_catalog_store checks again at the end, in case the model changed hands
 * meanwhile.
 */
static void
CheckModelWritable(const char *name)
{
	(void) ae_catalog_check_store(name);
}

/*
 * The rows in memory (data 'memory', or 'auto' when they fit), else a pass
 * over the relation per epoch (ae_stream.c).  In 'auto' the in-memory read
 * stops as soon as the rows are seen not to fit — at once when the
 * planner's row estimate already says so — and the streaming training
 * starts over from the first row.
 */
static AeBundle *
Train(Oid relid, const char *input, ArrayType *columns, AeTrainOptions *opts,
	  const AeBundle *warm, const char *what, AeTrainerReport *report)
{
	AeData		data;
	AeBundle   *bundle;
	MemoryContext cxt;
	MemoryContext old;

	/* categorical and date/time columns (ae_mixed.c) */
	if (columns != NULL)
	{
		AeDataPrepare(relid, input, columns, opts, what, &data);
		if (data.mixed)
			return AeMixedTrain(&data, opts, warm, what, report);
	}
	/* foreign partitions: trained where the rows are (ae_coord.c, doc/scaling.md) */
	if (columns != NULL && AeCoordWantsShards(relid, opts))
		return AeCoordTrainRelation(relid, columns, opts, warm, what, report);
	if (input != NULL && columns == NULL && AeCoordWantsShards(relid, opts))
	{
		Datum		name = CStringGetTextDatum(input);

		/* ae_train's own check of the input column first: an array of numbers */
		AeDataPrepare(relid, input, NULL, opts, what, &data);
		return AeCoordTrainRelation(relid, construct_array(&name, 1, TEXTOID, -1, false,
														   TYPALIGN_INT),
									opts, warm, what, report);
	}

	if (opts->data != AE_DATA_STREAM)
	{
		AeDataRead(relid, input, columns, opts, warm, what, &data);
		if (data.mixed)
			return AeMixedTrain(&data, opts, warm, what, report);	/* a NULL to learn */
		if (!data.too_big)
		{
			if (warm)
				AeTrainerCheckWarmColumns(warm, data.n_columns, data.columns, data.columns_len, what);
			return AeTrainerRun(opts, &data.arch, data.X, data.n, data.d,
								data.columns, data.n_columns, data.columns_len,
								warm, what, report, NULL, NULL);
		}
		if (opts->verbose)
			ereport(NOTICE,
					(errmsg("the rows do not fit autoenc.max_train_memory: streaming them")));
	}

	/* pass 1's scratch goes with this context when the rows fit after all */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc streaming",
								ALLOCSET_DEFAULT_SIZES);
	AeDataPrepare(relid, input, columns, opts, what, &data);
	if (warm)
		AeTrainerCheckWarmColumns(warm, data.n_columns, data.columns, data.columns_len, what);
	old = MemoryContextSwitchTo(cxt);
	bundle = AeStreamTrain(&data, opts, warm, what, report);
	MemoryContextSwitchTo(old);
	if (bundle == NULL)
	{
		/* the shuffle buffer holds every row: that is the in-memory training */
		MemoryContextDelete(cxt);
		opts->data = AE_DATA_MEMORY;
		AeDataRead(relid, input, columns, opts, warm, what, &data);
		return AeTrainerRun(opts, &data.arch, data.X, data.n, data.d,
							data.columns, data.n_columns, data.columns_len,
							warm, what, report, NULL, NULL);
	}
	return bundle;
}

/*
 * ae_train() in SQL; the C name differs because the core's training loop is
 * ae_train().
 */
PG_FUNCTION_INFO_V1(ae_train_relation);

Datum
ae_train_relation(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			relid;
	char	   *input = NULL;
	ArrayType  *columns = NULL;
	AeTrainOptions opts;
	char	   *what;
	TupleDesc	tupdesc;
	MemoryContext train_cxt;
	MemoryContext old_cxt;
	AeBundle   *warm = NULL;
	AeBundle   *bundle;
	AeTrainerReport report;
	int			version;
	instr_time	start;
	instr_time	elapsed;
	Datum		values[N_RESULT_COLUMNS];
	bool		nulls[N_RESULT_COLUMNS] = {false};

	INSTR_TIME_SET_CURRENT(start);

	if (PG_ARGISNULL(ARG_MODEL))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("model name must not be NULL")));
	if (PG_ARGISNULL(ARG_RELATION))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	relid = PG_GETARG_OID(ARG_RELATION);
	if (!PG_ARGISNULL(ARG_INPUT))
		input = text_to_cstring(PG_GETARG_TEXT_PP(ARG_INPUT));
	if (!PG_ARGISNULL(ARG_COLUMNS))
		columns = PG_GETARG_ARRAYTYPE_P(ARG_COLUMNS);
	if (input == NULL && columns == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("either input or columns must be given"),
				 errhint("Name an array column with input, or pass input => NULL and columns => '{a,b,c}'.")));
	if (input != NULL && columns != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("input and columns cannot both be given"),
				 errhint("Pass input => NULL to train on the named columns.")));

	AeOptionsFromArgs(&opts, fcinfo, ARG_FIRST_OPTION);
	what = psprintf("cannot train model \"%s\"", ae_model_name_display(name));

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != N_RESULT_COLUMNS)
		elog(ERROR, "ae_train() has an unexpected result type. Please report a bug.");
	tupdesc = BlessTupleDesc(tupdesc);

	train_cxt = AllocSetContextCreate(CurrentMemoryContext, "autoenc training",
									  ALLOCSET_DEFAULT_SIZES);
	old_cxt = MemoryContextSwitchTo(train_cxt);

	CheckModelWritable(name);
	if (opts.warm_start)
		warm = ae_catalog_fetch(name, AE_ACCESS_STORE, NULL);

	bundle = Train(relid, input, columns, &opts, warm, what, &report);

	/* the last step: replaces the stored model in this transaction */
	version = ae_catalog_store(name, bundle, relid);

	MemoryContextSwitchTo(old_cxt);
	MemoryContextDelete(train_cxt);

	INSTR_TIME_SET_CURRENT(elapsed);
	INSTR_TIME_SUBTRACT(elapsed, start);

	values[0] = CStringGetTextDatum(name);
	values[1] = Int32GetDatum(version);
	values[2] = Int64GetDatum(report.rows_used);
	values[3] = Int32GetDatum(report.epochs_run);
	values[4] = Float8GetDatum(report.train_loss);
	values[5] = Float8GetDatum(report.val_loss);
	nulls[5] = isnan(report.val_loss);
	values[6] = Float8GetDatum(INSTR_TIME_GET_DOUBLE(elapsed));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
