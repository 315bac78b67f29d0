/*
 * ae_score_input.c — one input row into an AeScorer's normalised buffer:
 * arrays read in place, rows through a map from the model's column names
 * to the row type's attributes (rebuilt when the type or the model
 * changes), codes for decoding, and the missing-value policy.
 *
 * Input checks, in the order applied to each element (1-based position in
 * the array, or the column name for a row):
 *   NULL                     22004 null_value_not_allowed  (or imputed)
 *   NaN                      22000 data_exception          (or imputed)
 *   ±Infinity                22003 numeric_value_out_of_range
 *   beyond real's range      22003 (double precision input)
 *   non-finite once normalised  22003
 * and for the array: not one-dimensional or not the model's width → 2202E
 * array_subscript_error.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "ae_encoding.h"
#include "ae_infer.h"
#include "ae_scorer.h"
#include "ae_training.h"

const char *
ae_feature_name(const AeScorer *s, int j, char *buf, size_t bufsize)
{
	if (s->entry->n_columns > 0)
		return s->entry->columns[j];
	snprintf(buf, bufsize, "%d", j + 1);
	return buf;
}

/* "input element 3" or "input column \"amount\"" */
static const char *
InputLabel(const AeScorer *s, int j, bool row, char *buf, size_t bufsize)
{
	if (row)
		snprintf(buf, bufsize, "input column \"%s\"", s->entry->columns[j]);
	else
		snprintf(buf, bufsize, "input element %d", j + 1);
	return buf;
}

static void
ReportMissing(const AeScorer *s, int j, bool row, bool isnull)
{
	char		buf[NAMEDATALEN + 32];

	ereport(ERROR,
			(errcode(isnull ? ERRCODE_NULL_VALUE_NOT_ALLOWED : ERRCODE_DATA_EXCEPTION),
			 errmsg("%s is %s", InputLabel(s, j, row, buf, sizeof(buf)), isnull ? "null" : "NaN"),
			 errdetail("Model \"%s\" needs a value for every feature.", s->name),
			 errhint("Pass missing => 'impute' to replace missing values by the training mean.")));
}

/*
 * One element, value v (not NULL), at feature j: checks it and stores the
 * normalised value.  Returns false when it is NaN and missing values are
 * imputed (the caller treats it as missing).
 */
static inline bool
LoadValue(AeScorer *s, int j, double v, bool row, AeMissing missing)
{
	const AeCachedModel *m = s->entry;
	char		buf[NAMEDATALEN + 32];
	float		z;

	if (isnan(v))
	{
		if (missing == AE_MISSING_IMPUTE)
			return false;
		ReportMissing(s, j, row, false);
	}
	if (isinf(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is infinite", InputLabel(s, j, row, buf, sizeof(buf)))));
	if (fabs(v) > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range for type real", InputLabel(s, j, row, buf, sizeof(buf))),
				 errdetail("The value is %g; models compute in single precision.", v)));
	z = ((float) v - m->norm_offset[j]) / m->norm_scale[j];
	if (!isfinite(z))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range once normalised", InputLabel(s, j, row, buf, sizeof(buf))),
				 /* not the model's normalisation: a grantee may score, not export */
				 errdetail("The value %g, normalised with the model's statistics, overflows single precision.",
						   v)));
	s->xn[j] = z;
	s->present[j] = true;
	return true;
}

/* Feature j is missing: impute the training mean, or fail. */
static inline void
LoadMissing(AeScorer *s, int j, bool row, bool isnull, AeMissing missing)
{
	const AeCachedModel *m = s->entry;

	if (missing != AE_MISSING_IMPUTE)
		ReportMissing(s, j, row, isnull);
	s->xn[j] = (m->feature_mean[j] - m->norm_offset[j]) / m->norm_scale[j];
	s->present[j] = false;
}

static void
CountPresent(AeScorer *s)
{
	int			n = 0;

	for (int j = 0; j < s->d; j++)
		n += s->present[j];
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("every input value is missing"),
				 errdetail("Model \"%s\" can impute missing values, but at least one must be present.",
						   s->name)));
	s->n_present = n;
}

/*
 * The array datum as an ArrayType with a 4-byte header, detoasting only
 * when it is toasted: a short-header array (under 127 bytes, as stored on
 * disk) is copied into the scorer's staging buffer instead of a new palloc.
 * A TOAST pointer or an expanded array (a PL/pgSQL variable) also has a
 * one-byte header but no inline data: DatumGetArrayTypeP fetches or
 * flattens it.
 */
static ArrayType *
ArrayInPlace(AeScorer *s, Datum datum)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(datum);

	if (VARATT_IS_SHORT(v) && !VARATT_IS_EXTERNAL(v))
	{
		Size		len = VARSIZE_SHORT(v) - VARHDRSZ_SHORT;

		if (s->stage_size < len + VARHDRSZ)
		{
			if (s->stage)
				pfree(s->stage);
			s->stage_size = Max(len + VARHDRSZ, 256);
			s->stage = MemoryContextAlloc(s->mcxt, s->stage_size);
		}
		SET_VARSIZE(s->stage, len + VARHDRSZ);
		memcpy(VARDATA(s->stage), VARDATA_SHORT(v), len);
		return (ArrayType *) s->stage;
	}
	return DatumGetArrayTypeP(datum);
}

/* Check shape and element type; returns the element type. */
static Oid
CheckArray(const AeScorer *s, ArrayType *arr, int expected, const char *what)
{
	int			ndim = ARR_NDIM(arr);
	int			n = ndim == 0 ? 0 : ARR_DIMS(arr)[0];
	Oid			elemtype = ARR_ELEMTYPE(arr);

	if (ndim > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s array must be one-dimensional", what),
				 errdetail("The array has %d dimensions.", ndim)));
	if (n != expected)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("model \"%s\" expects %d %s values, not %d", s->name, expected, what, n)));
	if (elemtype != FLOAT4OID && elemtype != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s array must be real[] or double precision[], not %s[]",
						what, format_type_be(elemtype))));
	return elemtype;
}

void
ae_scorer_load_array(AeScorer *s, Datum datum, AeMissing missing)
{
	ArrayType  *arr;
	int			d = s->d;
	Oid			elemtype;
	const bits8 *nulls;
	const char *p;

	if (s->entry->encoding)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" was trained on named columns of several types, not on arrays", s->name),
				 errhint("Pass the row, e.g. ae_error('%s', t) for a table t.", s->name)));
	s->n_features = d;
	arr = ArrayInPlace(s, datum);
	elemtype = CheckArray(s, arr, d, "input");
	nulls = ARR_NULLBITMAP(arr);
	p = ARR_DATA_PTR(arr);

	if (elemtype == FLOAT4OID && nulls == NULL &&
		likely(ae_infer_normalize((const float *) p, s->entry->norm_offset,
								  s->entry->norm_scale, s->xn, d)))
	{
		/* the common case: read in place, normalised in one vectorised pass */
		memset(s->present, true, sizeof(bool) * d);
		s->n_present = d;
		return;
	}

	/* element by element, with every check and missing values */
	for (int j = 0, k = 0; j < d; j++)
	{
		double		v;

		if (nulls && !(nulls[j / 8] & (1 << (j % 8))))
		{
			LoadMissing(s, j, false, true, missing);
			continue;
		}
		if (elemtype == FLOAT4OID)
			v = ((const float *) p)[k++];
		else
			v = ((const double *) p)[k++];
		if (!LoadValue(s, j, v, false, missing))
			LoadMissing(s, j, false, false, missing);
	}
	CountPresent(s);
}

static bool
NumericType(Oid type)
{
	switch (type)
	{
		case FLOAT4OID:
		case FLOAT8OID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return true;
		default:
			return false;
	}
}

/* Find the model's columns in the row type desc. */
static void
BuildRowMap(AeScorer *s, TupleDesc desc)
{
	const AeCachedModel *m = s->entry;
	MemoryContext old = MemoryContextSwitchTo(s->mcxt);

	if (s->row_desc)
	{
		FreeTupleDesc(s->row_desc);
		pfree(s->row_attno);
		pfree(s->row_type);
		pfree(s->row_values);
		pfree(s->row_nulls);
	}
	s->row_typid = InvalidOid;	/* until complete */
	s->row_desc = CreateTupleDescCopy(desc);
	desc = s->row_desc;
	s->row_attno = palloc(sizeof(AttrNumber) * m->n_columns);
	s->row_type = palloc(sizeof(Oid) * m->n_columns);
	s->row_values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	s->row_nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	if (s->col_values)
	{
		pfree(s->col_values);
		pfree(s->col_nulls);
	}
	s->col_values = palloc(sizeof(Datum) * m->n_columns);
	s->col_nulls = palloc(sizeof(bool) * m->n_columns);
	MemoryContextSwitchTo(old);

	for (int j = 0; j < m->n_columns; j++)
	{
		int			i;

		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), m->columns[j]) == 0)
				break;
		}
		if (i == desc->natts)
		{
			StringInfoData cols;

			initStringInfo(&cols);
			for (int c = 0; c < m->n_columns; c++)
				appendStringInfo(&cols, "%s%s", c ? ", " : "", quote_identifier(m->columns[c]));
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("input row has no column \"%s\"", m->columns[j]),
					 errdetail("Model \"%s\" was trained on the columns %s.", s->name, cols.data)));
		}
		s->row_attno[j] = i + 1;
		s->row_type[j] = getBaseType(TupleDescAttr(desc, i)->atttypid);
		if (m->encoding)
		{
			AeColumnKind kind;
			AeColumnKind want = m->encoding->cols[j].kind;

			if (!AeColumnKindOf(s->row_type[j], &kind) || kind != want)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("input column \"%s\" has type %s, but model \"%s\" learnt it as a %s column",
								m->columns[j], format_type_be(TupleDescAttr(desc, i)->atttypid),
								s->name, AeColumnKindName(want)),
						 errhint("Cast the column to the type it had in training.")));
		}
		else if (!NumericType(s->row_type[j]))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("input column \"%s\" has type %s, not a number", m->columns[j],
							format_type_be(TupleDescAttr(desc, i)->atttypid)),
					 errhint("Model inputs may be real, double precision, smallint, integer, bigint or numeric.")));
	}
	s->row_typid = desc->tdtypeid;
	s->row_typmod = desc->tdtypmod;
	s->row_serial = s->serial;
	s->row_generation = ae_relcache_generation;
}

static inline bool
RowMapValid(const AeScorer *s, Oid typid, int32 typmod)
{
	return typid == s->row_typid && typmod == s->row_typmod &&
		s->row_serial == s->serial && s->row_generation == ae_relcache_generation;
}

static void
CheckNamedColumns(const AeScorer *s)
{
	if (s->entry->n_columns == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("model \"%s\" was trained on arrays, not on named columns", s->name),
				 errhint("Pass the features as a real[] or double precision[] array.")));
	if (s->entry->n_columns != s->d && s->entry->encoding == NULL)
		elog(ERROR, "model \"%s\" has %d columns for %d inputs. Please report a bug.",
			 s->name, s->entry->n_columns, s->d);
}

static double
DatumToDouble(Datum value, Oid type)
{
	switch (type)
	{
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		case INT8OID:
			return (double) DatumGetInt64(value);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
		default:
			elog(ERROR, "unexpected input type %u. Please report a bug.", type);
			return 0.0;
	}
}

/*
 * A mixed model's row: its columns through the model's encoding
 * (AeEncodeRow, what training used), then the plain inputs normalised.  A
 * NULL in a column without a missing state, or a NaN, is an error — or with
 * missing 'impute' that column's training mean (it then counts in the
 * error like any value).
 */
static void
LoadEncoded(AeScorer *s, AeMissing missing)
{
	const AeCachedModel *m = s->entry;
	const AeEncoding *enc = m->encoding;
	AeRowCheck	check;
	char		buf[NAMEDATALEN + 32];

	for (int c = 0; c < enc->n_columns; c++)
	{
		int			a = s->row_attno[c] - 1;

		s->col_values[c] = s->row_values[a];
		s->col_nulls[c] = s->row_nulls[a];
	}
	for (;;)
	{
		s->n_unknown = 0;
		if (AeEncodeRow(enc, s->col_values, s->col_nulls, s->row_type, m->feature_mean, s->xn,
						&s->n_unknown, &check))
			break;
		if (check.problem == AE_ROW_NULL || check.problem == AE_ROW_NAN)
		{
			if (missing != AE_MISSING_IMPUTE)
				ReportMissing(s, check.index - 1, true, check.problem == AE_ROW_NULL);
			if (check.problem == AE_ROW_NULL)
				break;			/* the row is complete, the NULL's inputs hold the mean */
			s->col_nulls[check.index - 1] = true;	/* a NaN: encode it as that NULL */
			continue;
		}
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is %s", InputLabel(s, check.index - 1, true, buf, sizeof(buf)),
						check.problem == AE_ROW_INFINITE ? "infinite" : "out of range for type real")));
	}
	for (int j = 0; j < enc->groups.n_plain; j++)
	{
		float		z = (s->xn[j] - m->norm_offset[j]) / m->norm_scale[j];

		if (!isfinite(z))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("input %d of model \"%s\" is out of range once normalised", j + 1, s->name)));
		s->xn[j] = z;
	}
	memset(s->present, true, sizeof(bool) * s->d);
	s->n_present = s->d;
	s->n_features = enc->n_columns;
}

/* The deformed row in s->row_values / row_nulls → s->xn. */
static void
LoadDeformed(AeScorer *s, AeMissing missing)
{
	if (s->entry->encoding)
	{
		LoadEncoded(s, missing);
		return;
	}
	s->n_features = s->d;
	for (int j = 0; j < s->d; j++)
	{
		int			a = s->row_attno[j] - 1;

		if (s->row_nulls[a])
			LoadMissing(s, j, true, true, missing);
		else if (!LoadValue(s, j, DatumToDouble(s->row_values[a], s->row_type[j]), true, missing))
			LoadMissing(s, j, true, false, missing);
	}
	CountPresent(s);
}

void
ae_scorer_load_row(AeScorer *s, HeapTupleHeader row, AeMissing missing)
{
	Oid			typid = HeapTupleHeaderGetTypeId(row);
	int32		typmod = HeapTupleHeaderGetTypMod(row);
	HeapTupleData tuple;

	CheckNamedColumns(s);
	if (!RowMapValid(s, typid, typmod))
	{
		TupleDesc	desc = lookup_rowtype_tupdesc(typid, typmod);

		/* on error, the resource owner releases desc */
		BuildRowMap(s, desc);
		ReleaseTupleDesc(desc);
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	heap_deform_tuple(&tuple, s->row_desc, s->row_values, s->row_nulls);
	LoadDeformed(s, missing);
}

void
ae_scorer_load_tuple(AeScorer *s, HeapTuple tuple, TupleDesc desc, AeMissing missing)
{
	CheckNamedColumns(s);
	if (!RowMapValid(s, desc->tdtypeid, desc->tdtypmod))
		BuildRowMap(s, desc);
	heap_deform_tuple(tuple, s->row_desc, s->row_values, s->row_nulls);
	LoadDeformed(s, missing);
}

void
ae_scorer_load_code(AeScorer *s, Datum datum)
{
	ArrayType  *arr = ArrayInPlace(s, datum);
	int			n = s->code_width;
	Oid			elemtype = CheckArray(s, arr, n, "code");
	const bits8 *nulls = ARR_NULLBITMAP(arr);
	const char *p = ARR_DATA_PTR(arr);

	for (int j = 0; j < n; j++)
	{
		double		v;

		if (nulls && !(nulls[j / 8] & (1 << (j % 8))))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("code element %d is null", j + 1)));
		v = elemtype == FLOAT4OID ? ((const float *) p)[j] : ((const double *) p)[j];
		if (isnan(v))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("code element %d is NaN", j + 1)));
		if (isinf(v) || fabs(v) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("code element %d is %s", j + 1,
							isinf(v) ? "infinite" : "out of range for type real")));
		s->code[j] = (float) v;
	}
}

/* ---------------------------------------------------------------- arguments */

AeMissing
ae_parse_missing(const text *value)
{
	if (ae_text_is(value, "error"))
		return AE_MISSING_ERROR;
	if (ae_text_is(value, "impute"))
		return AE_MISSING_IMPUTE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for missing: \"%s\"", text_to_cstring(value)),
			 errhint("Valid values are \"error\" and \"impute\".")));
	return AE_MISSING_ERROR;
}
