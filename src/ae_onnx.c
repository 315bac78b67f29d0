/*
 * ae_onnx.c — ae_export_onnx and ae_import_onnx: the SQL faces of
 * src/core/ae_onnx_read.c and ae_onnx_write.c, which hold the format and
 * every check (so that the reader is fuzzed without a server).
 *
 * Both go through the catalog exactly as ae_export and ae_import do:
 * exporting needs ownership (AE_ACCESS_OWN), importing stores through
 * ae_catalog_store.  An imported graph carries no training-error
 * distribution; a calibration query supplies one (threshold and
 * quantiles, computed as training computes them), else the model scores
 * but ae_is_anomaly asks for a threshold.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "ae_catalog.h"
#include "ae_onnx.h"
#include "ae_training.h"
#include "autoenc.h"

static int
ProblemSqlstate(AeOnnxProblem problem)
{
	switch (problem)
	{
		case AE_ONNX_MALFORMED:
			return ERRCODE_INVALID_TEXT_REPRESENTATION; /* 22P02 */
		case AE_ONNX_UNSUPPORTED:
			return ERRCODE_FEATURE_NOT_SUPPORTED;	/* 0A000 */
		case AE_ONNX_TOO_LARGE:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;	/* 54000 */
		case AE_ONNX_INVALID:
		case AE_ONNX_OK:
			break;
	}
	return ERRCODE_INVALID_PARAMETER_VALUE; /* 22023 */
}

PG_FUNCTION_INFO_V1(ae_export_onnx);
Datum
ae_export_onnx(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	AeBundle   *bundle = ae_catalog_fetch(name, AE_ACCESS_OWN, NULL);
	char		errbuf[AE_ERRBUF_SIZE] = "";
	uint8_t    *buf;
	size_t		len;
	bytea	   *result;

	if (bundle->encoding_json)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("model \"%s\" has categorical, date/time or NULL-learning columns, which ONNX export does not support",
						ae_model_name_display(name)),
				 errdetail("An ONNX graph of it would need the column encoding (vocabularies, date features) as ONNX operators."),
				 errhint("Export it with ae_export.")));
	if (ae_onnx_write(bundle, name, AE_LIBRARY_VERSION, &ae_palloc_allocator,
					  &buf, &len, errbuf) != AE_OK)
		elog(ERROR, "stored model \"%s\" cannot be written as ONNX: %s. Please report a bug.",
			 name, errbuf);
	if (len > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" needs %zu bytes as ONNX; a bytea holds at most 1 GB", name, len)));
	result = palloc(len + VARHDRSZ);
	SET_VARSIZE(result, len + VARHDRSZ);
	memcpy(VARDATA(result), buf, len);
	PG_RETURN_BYTEA_P(result);
}

/* A numeric attribute as a float; false for a type that is not a number. */
static bool
NumberAsFloat(Datum v, Oid type, double *out)
{
	switch (type)
	{
		case FLOAT8OID:
			*out = DatumGetFloat8(v);
			return true;
		case FLOAT4OID:
			*out = DatumGetFloat4(v);
			return true;
		case INT2OID:
			*out = DatumGetInt16(v);
			return true;
		case INT4OID:
			*out = DatumGetInt32(v);
			return true;
		case INT8OID:
			*out = (double) DatumGetInt64(v);
			return true;
		case NUMERICOID:
			*out = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, v));
			return true;
	}
	return false;
}

/*
 * One calibration row of a named-column model: its attributes picked by
 * the model's column names (attno[j], looked up once), as ae_train reads
 * named columns.
 */
static void
ReadNamedRow(const AeBundle *b, HeapTuple tuple, TupleDesc desc, const int *attno,
			 float *out, uint64 row, const char *what)
{
	const char *name = b->columns;

	for (int j = 0; j < b->arch.n_inputs; j++, name += strlen(name) + 1)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(tuple, desc, attno[j], &isnull);
		double		x;

		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: row " UINT64_FORMAT ": column \"%s\" is NULL", what, row, name)));
		if (!NumberAsFloat(v, SPI_gettypeid(desc, attno[j]), &x))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s: column \"%s\" is of type %s; expected a number",
							what, name, format_type_be(SPI_gettypeid(desc, attno[j])))));
		if (!isfinite(x) || fabs(x) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s: row " UINT64_FORMAT ": column \"%s\" is %g, not a finite real", what, row, name, x)));
		out[j] = (float) x;
	}
}

/*
 * The rows of a calibration query through the model: threshold and
 * quantiles as ae_train computes them on its training rows.  The query
 * returns one real[] or double precision[] column of n_inputs values, or,
 * for a model with column names, columns of those names (others ignored).
 */
static void
Calibrate(AeBundle *b, const char *query, double contamination)
{
	int			d = b->arch.n_inputs;
	const char *what = "ae_import_onnx calibration";
	AeModel		m;
	char		errbuf[AE_ERRBUF_SIZE];
	float	   *X;
	TupleDesc	desc;
	Oid			type;
	bool		arrays;
	int		   *attno = NULL;
	uint64		n;
	int			rc;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute(query, true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the query must be a SELECT returning rows", what)));
	n = SPI_processed;
	desc = SPI_tuptable->tupdesc;
	type = SPI_gettypeid(desc, 1);
	arrays = desc->natts == 1 && (type == FLOAT4ARRAYOID || type == FLOAT8ARRAYOID);
	if (!arrays && b->n_columns == 0)
	{
		if (desc->natts != 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s: the query returns %d columns; expected one real[] or double precision[] column",
							what, desc->natts),
					 errhint("With columns => ..., the query may return columns of those names instead.")));
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s: the query returns %s; expected real[] or double precision[]",
						what, format_type_be(type))));
	}
	if (!arrays)
	{
		const char *name = b->columns;

		attno = palloc(d * sizeof(int));
		for (int j = 0; j < d; j++, name += strlen(name) + 1)
		{
			attno[j] = SPI_fnumber(desc, name);
			if (attno[j] <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("%s: the query returns no column \"%s\"", what, name),
						 errhint("Return the model's columns by name, or one real[] or double precision[] column.")));
		}
	}
	if (n < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: at least 2 rows are needed, got " UINT64_FORMAT, what, n)));
	if (n > (uint64) (MaxAllocHugeSize / sizeof(float) / d))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: " UINT64_FORMAT " rows are too many", what, n)));

	X = palloc_extended(sizeof(float) * n * d, MCXT_ALLOC_HUGE);
	for (uint64 i = 0; i < n; i++)
	{
		if (arrays)
		{
			bool		isnull;
			Datum		v = SPI_getbinval(SPI_tuptable->vals[i], desc, 1, &isnull);
			AeRowCheck	c = {0};
			int			width = 0;

			if (isnull)
				c.problem = AE_ROW_NULL;
			else
				AeConvertArray(DatumGetArrayTypeP(v), type == FLOAT4ARRAYOID, d, X + i * d, &width, &c, what);
			if (c.problem == AE_ROW_OK && width != d)
			{
				c.problem = AE_ROW_RAGGED;
				c.count = width;
			}
			if (c.problem != AE_ROW_OK)
				AeReportRow(what, (int64) i + 1, NULL, NULL, &c, d);
		}
		else
			ReadNamedRow(b, SPI_tuptable->vals[i], desc, attno, X + i * d, i + 1, what);
		CHECK_FOR_INTERRUPTS();
	}
	ae_norm_apply(b->norm_offset, b->norm_scale, X, n, d);
	if (ae_model_bind(&m, &b->arch, b->params, errbuf) != AE_OK)
		elog(ERROR, "imported model does not bind: %s. Please report a bug.", errbuf);
	AeTrainerCalibrate(b, &m, X, (int64) n, d, contamination);
	for (int i = 0; i < AE_BUNDLE_N_QUANTILES; i++)
		if (!isfinite(b->quantiles[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s: a row's reconstruction error is not finite", what),
					 errhint("The model overflows on these rows; check the calibration data and its units.")));
	b->n_rows = (int64) n;
	pfree(X);
	SPI_finish();
}

static int
CompareNames(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * Input column names (ONNX has no place for them): one non-empty, distinct
 * name per input, so that the model scores records and runs in a trigger
 * on '*', like a model trained on named columns.
 */
static void
SetColumns(AeBundle *b, ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData names;
	const char **sorted;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("columns must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n != b->arch.n_inputs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns has %d names; the model has %d inputs", n, b->arch.n_inputs)));
	initStringInfo(&names);
	sorted = palloc(n * sizeof(char *));
	for (int i = 0; i < n; i++)
	{
		char	   *name;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("columns[%d] is NULL", i + 1)));
		name = TextDatumGetCString(elems[i]);
		if (name[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("columns[%d] is empty", i + 1)));
		sorted[i] = name;
		appendBinaryStringInfo(&names, name, strlen(name) + 1);
	}
	/* sorted, a repeat sits next to its twin */
	qsort(sorted, n, sizeof(char *), CompareNames);
	for (int i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("the name \"%s\" appears more than once in columns", sorted[i])));
	b->n_columns = n;
	b->columns = names.data;
	b->columns_len = names.len;
}

PG_FUNCTION_INFO_V1(ae_import_onnx);
Datum
ae_import_onnx(PG_FUNCTION_ARGS)
{
	bytea	   *onnx;
	char	   *name;
	int			code_layer = -1;
	double		contamination;
	AeTrainOptions defaults;
	AeBundle	bundle;
	AeOnnxProblem problem;
	char		errbuf[AE_ERRBUF_SIZE] = "";
	AeStatus	st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the imported model needs a name")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	/* the name and the right to store it, before any work (as training does) */
	(void) ae_catalog_check_store(name);
	if (!PG_ARGISNULL(2))
	{
		code_layer = PG_GETARG_INT32(2);
		if (code_layer < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("code_layer is %d; it must not be negative", code_layer)));
	}
	/* the training default, from its one definition */
	AeOptionsDefaults(&defaults);
	contamination = PG_ARGISNULL(4) ? defaults.contamination : PG_GETARG_FLOAT8(4);
	if (!(contamination >= 0.0 && contamination <= 0.5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("contamination is %g; it must be between 0 and 0.5, as in training", contamination)));

	/* the size limit before the whole value is detoasted */
	if (toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ > AE_ONNX_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid ONNX model: it has %zu bytes; at most %zu are accepted",
						(size_t) (toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ), AE_ONNX_MAX_BYTES)));
	onnx = PG_GETARG_BYTEA_PP(0);
	st = ae_onnx_read((const uint8_t *) VARDATA_ANY(onnx), VARSIZE_ANY_EXHDR(onnx), code_layer,
					  &bundle, &ae_palloc_allocator, &problem, errbuf);
	if (st == AE_ERR_FORMAT)
		ereport(ERROR,
				(errcode(ProblemSqlstate(problem)),
				 errmsg("invalid ONNX model: %s", errbuf)));
	ae_check_status(st, errbuf, "ae_import_onnx");

	/* PG_NARGS: through a declaration with fewer arguments, the rest are NULL */
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		SetColumns(&bundle, PG_GETARG_ARRAYTYPE_P(5));
	if (!PG_ARGISNULL(3))
		Calibrate(&bundle, text_to_cstring(PG_GETARG_TEXT_PP(3)), contamination);
	PG_RETURN_INT32(ae_catalog_store(name, &bundle, InvalidOid));
}
